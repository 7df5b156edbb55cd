// Drives the official WaveSpeed Go SDK (github.com/WaveSpeedAI/wavespeed-go v0.2.1),
// unmodified, against a WaveSpeed API at a base URL: upload three local files
// (POST /api/v3/media/upload/binary), run a job and poll it to completion, run one
// in sync mode, and fail a run on media that cannot be read. Prints one JSON line;
// exits 1 on the first step that does not do what the SDK documents.
//
//	go run . http://127.0.0.1:8000 some-key ../../fixtures/media
//
// scripts/check_go_sdk starts a fake and runs this against it (README: the Go SDK).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/WaveSpeedAI/wavespeed-go/api"
)

const model = "wavespeed-ai/infinitetalk-fast/video-to-video-multi"

func fail(step string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", step, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: go run . BASE_URL API_KEY MEDIA_DIR")
		os.Exit(2)
	}
	base, key, media := os.Args[1], os.Args[2], os.Args[3]
	client := api.NewClient(api.WithAPIKey(key), api.WithBaseURL(base))
	report := map[string]any{}

	inputs := map[string]any{"order": "left_right", "prompt": "two people talk"}
	for name, file := range map[string]string{
		"video": "clip.mp4", "left_audio": "tone.wav", "right_audio": "tone.flac",
	} {
		url, err := client.Upload(filepath.Join(media, file))
		if err != nil {
			fail("upload "+file, err)
		}
		inputs[name] = url
	}
	report["uploaded"] = inputs

	out, err := client.Run(model, inputs, api.WithPollInterval(0.2), api.WithTimeout(60))
	if err != nil {
		fail("run", err)
	}
	report["run"] = out

	out, err = client.Run(model, inputs, api.WithSyncMode(true), api.WithTimeout(60))
	if err != nil {
		fail("run (sync)", err)
	}
	report["sync"] = out

	broken := map[string]any{}
	for name, value := range inputs {
		broken[name] = value
	}
	broken["right_audio"] = inputs["video"] // a video where audio belongs: the job fails (1402)
	_, err = client.Run(model, broken, api.WithPollInterval(0.2), api.WithTimeout(60))
	if err == nil || !strings.Contains(err.Error(), "right_audio") {
		fail("run (unreadable media)", fmt.Errorf("expected a failure naming right_audio, got %v", err))
	}
	report["failed"] = err.Error()

	line, _ := json.Marshal(report)
	fmt.Println(string(line))
}
