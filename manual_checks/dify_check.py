"""Drive WaveSpeedAI/dify-wavespeed-plugin (unmodified) against wavespeed-mock.

Usage: dify-venv/bin/python dify_check.py http://127.0.0.1:PORT
Run from manual_checks/; the plugin checkout is ./dify-plugin (imported as-is).
Only utils.client.BASE_URL is changed, at run time.
"""

import json
import sys
import urllib.request

BASE = sys.argv[1].rstrip("/")
sys.path.insert(0, "dify-plugin")

import utils.client as client_mod  # noqa: E402
from provider.wavespeed import WavespeedProvider  # noqa: E402
from tools.generate_video import GenerateVideoTool  # noqa: E402

client_mod.BASE_URL = BASE  # the only change: point the plugin at the fake

KEY = "k"
MULTI = "wavespeed-ai/infinitetalk-fast/video-to-video-multi"
ok = True


def step(title, fn):
    global ok
    print(f"\n== {title}")
    try:
        result = fn()
        print("   returned:", result)
        return result
    except Exception as e:  # report exactly what the plugin raised
        print(f"   raised {type(e).__module__}.{type(e).__name__}: {e}")
        return e


def messages(gen):
    return [(m.type.value, m.message.model_dump()) for m in gen]


# 1. credential check, through the provider's real code path (GET /api/v3/balance)
step("provider._validate_credentials({'wavespeed_api_key': 'k'})",
     lambda: WavespeedProvider().validate_credentials({"wavespeed_api_key": KEY}))

# 2. the real tool code path: GenerateVideoTool sends only {prompt[, duration]}
tool = GenerateVideoTool.from_credentials({"wavespeed_api_key": KEY})
step(f"GenerateVideoTool.invoke(prompt, model={MULTI})",
     lambda: messages(tool.invoke({"prompt": "two people talking", "model": MULTI})))
step("GenerateVideoTool.invoke(prompt, model=wavespeed-ai/infinitetalk-fast, duration=5)",
     lambda: messages(tool.invoke({"prompt": "a person talking",
                                   "model": "wavespeed-ai/infinitetalk-fast", "duration": 5})))
step("GenerateVideoTool.invoke(prompt) with the tool's default model",
     lambda: messages(tool.invoke({"prompt": "a cat"})))

# 3. the same client the tools use, with the inputs the fake's model needs
c = client_mod.WaveSpeedClient(KEY)
video = f"{BASE}/media/samples/video.mp4?seconds=3"
left = f"{BASE}/media/samples/silence.wav?seconds=6"
right = f"{BASE}/media/samples/silence.wav?seconds=4"
task = step(f"WaveSpeedClient.submit({MULTI}, video/left_audio/right_audio)",
            lambda: c.submit(MULTI, {"video": video, "left_audio": left,
                                     "right_audio": right, "prompt": "two people talking"}))
if isinstance(task, str):
    pred = step("WaveSpeedClient.wait(task_id)", lambda: c.wait(task))
    if isinstance(pred, dict):
        urls = step("WaveSpeedClient.output_urls(prediction)", lambda: c.output_urls(pred))
        if urls:
            head = urllib.request.urlopen(urls[0]).read()[:12]
            print("   output bytes[4:8]:", head[4:8], "(MP4 ftyp box)" if head[4:8] == b"ftyp" else "(NOT ftyp)")
            ok = ok and head[4:8] == b"ftyp"
        else:
            ok = False
    else:
        ok = False
else:
    ok = False

# 4. a failing job: a video where left_audio belongs -> status failed, code 1402
bad = step("WaveSpeedClient.submit(video in left_audio)",
           lambda: c.submit(MULTI, {"video": video, "left_audio": video, "right_audio": right}))
if isinstance(bad, str):
    step("WaveSpeedClient.wait(failing task_id)", lambda: c.wait(bad))

# 5. what the fake received
print("\n== fake's journal (GET /_mock/journal)")
with urllib.request.urlopen(f"{BASE}/_mock/journal?limit=1000") as r:
    entries = json.load(r)["data"]["entries"]
for e in entries:
    if e["path"].startswith("/_mock"):
        continue
    extra = ""
    resp = e.get("response")
    if isinstance(resp, dict) and e["status"] >= 400:
        extra = " " + json.dumps(resp)[:300]
    elif isinstance(resp, dict) and isinstance(resp.get("data"), dict) and "status" in resp["data"]:
        d = resp["data"]
        extra = f" data.status={d.get('status')} code={d.get('code')} error={d.get('error')!r}"
    print(f"   {e['seq']:>3} {e['method']:<4} {e['path']}{'?' + e['query'] if e['query'] else ''} -> {e['status']}{extra}")
print("\nclient-level flow completed with an MP4 output:", ok)
