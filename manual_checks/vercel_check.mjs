// Drive ccakmak60/wavespeedai-ai-provider (unmodified, built to ai-provider/dist) with the
// Vercel AI SDK against wavespeed-mock.
// Usage: node vercel_check.mjs http://127.0.0.1:PORT   (or http://wavespeed-fake.test:PORT)
import { readFileSync } from "node:fs";
import { experimental_generateVideo, uploadFile } from "ai";
import { createWaveSpeedAI } from "./ai-provider/dist/index.mjs";

const FAKE = process.argv[2].replace(/\/$/, "");
const MEDIA = new URL("../fixtures/media", import.meta.url).pathname;
const MODEL = "wavespeed-ai/infinitetalk-fast"; // image + audio
const wavespeedai = createWaveSpeedAI({ baseURL: FAKE + "/api/v3", apiToken: "k" });
let ok = true;

function describe(e) {
  const lines = [`${e?.constructor?.name ?? typeof e}: ${e?.message ?? e}`];
  for (const k of ["name", "url", "statusCode", "reason"]) if (e?.[k] !== undefined) lines.push(`  .${k} = ${e[k]}`);
  let c = e?.cause;
  while (c) {
    lines.push(`  cause ${c.constructor?.name}: ${c.message}`);
    c = c.cause;
  }
  return lines.join("\n");
}

async function step(title, fn) {
  console.log(`\n== ${title}`);
  try {
    const r = await fn();
    console.log("   ok:", r);
    return r;
  } catch (e) {
    ok = false;
    console.log("   threw " + describe(e).replace(/\n/g, "\n   "));
    return undefined;
  }
}

// 1. the provider's file upload, through the AI SDK's uploadFile (POST /media/upload/binary)
const audio = await step("uploadFile({ api: wavespeedai.files(), data: tone.wav })", async () => {
  const r = await uploadFile({
    api: wavespeedai.files(),
    data: new Uint8Array(readFileSync(`${MEDIA}/tone.wav`)),
    mediaType: "audio/wav",
    filename: "tone.wav",
  });
  return r.providerReference.wavespeedai;
});
const image = await step("wavespeedai.uploadFile(frame.png)", async () =>
  (await wavespeedai.uploadFile({ data: new Uint8Array(readFileSync(`${MEDIA}/frame.png`)), mediaType: "image/png", filename: "frame.png" })).url,
);

// 2. experimental_generateVideo with image and audio URLs in providerOptions.wavespeedai
async function generate(title, args) {
  return step(title, async () => {
    const { video, videos, warnings } = await experimental_generateVideo({
      model: wavespeedai.videoModel(MODEL),
      ...args,
    });
    const b = video.uint8Array;
    const box = Buffer.from(b.subarray(4, 8)).toString("latin1");
    if (box !== "ftyp") ok = false;
    return `${videos.length} video(s), ${video.mediaType}, ${b.length} bytes, bytes[4..8]='${box}'${box === "ftyp" ? " (MP4 ftyp box)" : ""}, warnings=${JSON.stringify(warnings)}`;
  });
}
await generate(`experimental_generateVideo(${MODEL}, providerOptions.wavespeedai {image, audio})`, {
  prompt: "a person talking",
  providerOptions: { wavespeedai: { image, audio } },
});

// 3. the same with the image given as bytes: the provider uploads it itself (fileToUrl)
await generate(`experimental_generateVideo(${MODEL}, prompt {image: bytes, text}, providerOptions {audio})`, {
  prompt: { image: new Uint8Array(readFileSync(`${MEDIA}/frame.png`)), text: "a person talking" },
  providerOptions: { wavespeedai: { audio } },
});

// 4. a failing job: a video where the audio belongs (task code 1402)
const okBefore = ok;
await generate("experimental_generateVideo with a video as audio (expected to fail)", {
  prompt: "a person talking",
  providerOptions: { wavespeedai: { image, audio: `${FAKE}/media/samples/video.mp4?seconds=3` } },
});
ok = okBefore;

// 5. what the fake received
console.log("\n== fake's journal (GET /_mock/journal)");
const journal = await (await fetch(`${FAKE}/_mock/journal?limit=1000`)).json();
for (const e of journal.data.entries) {
  if (e.path.startsWith("/_mock")) continue;
  const d = e.response?.data;
  let extra = "";
  if (e.status >= 400) extra = " " + JSON.stringify(e.response).slice(0, 300);
  else if (d && typeof d === "object" && "status" in d) extra = ` data.status=${d.status} code=${d.code ?? ""} error=${JSON.stringify(d.error)}`;
  else if (d?.download_url) extra = ` data.download_url=${d.download_url}`;
  if (e.request) extra += ` body=${JSON.stringify(e.request).slice(0, 400)}`;
  console.log(`   ${String(e.seq).padStart(3)} ${e.method.padEnd(4)} ${e.path}${e.query ? "?" + e.query : ""} -> ${e.status}${extra}`);
}
console.log(`\nflow (upload, generate, download, ftyp) completed: ${ok}`);
