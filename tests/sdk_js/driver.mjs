#!/usr/bin/env node
// Drives the official npm `wavespeed` SDK, unmodified, against the fake.
//
//   node tests/sdk_js/driver.mjs [BASE_URL [API_KEY]]
//
// BASE_URL and API_KEY fall back to WAVESPEED_BASE_URL and WAVESPEED_API_KEY;
// POLL_INTERVAL (seconds, default 0.05) replaces the SDK's 1 s default.
// The only thing pointed at the fake is the SDK's `baseUrl` option.
//
// Runs seven steps in order and prints ONE JSON line with what each returned
// or threw; judging it is tests/test_sdk_js.py's job. Exit status 0 when the
// steps ran (even if the SDK threw where it should not have), 1 when the
// driver itself could not run.
//
//   upload        client.upload() of a 7.3 s WAV and a 10 s MP4 (ticket + PUT)
//   run           client.run() with them, order left_right: submit, poll, outputs;
//                 then the output URL is downloaded
//   failure       client.run() on a job the test made fail (its 2nd submission)
//   runNoThrow    client.runNoThrow() on a job whose left_audio is a video:
//                 fails on its inputs (task code 1402)
//   sync          client.run() with enableSyncMode, order meanwhile
//   familyImage   wavespeed-ai/infinitetalk: a PNG as a data: URI and a 3.4 s audio
//   familyVideoMulti  wavespeed-ai/infinitetalk/video-to-video-multi at 720p,
//                 order left_right, 4 s + 6.5 s
//                 (both family steps on a second key, `${API_KEY}-family`, so their
//                 charges are an account of their own)
//
// The test steers outcomes by queueing one directive per submission on the
// fake, in this order, so keep the order of the submissions here as it is.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Client, version } from 'wavespeed';

const MODEL = 'wavespeed-ai/infinitetalk-fast/video-to-video-multi';
const IMAGE_MODEL = 'wavespeed-ai/infinitetalk';
const VIDEO_MULTI_MODEL = 'wavespeed-ai/infinitetalk/video-to-video-multi';
// A 2x2 grey PNG, inline: the one-image models' picture.
const PNG =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAAAAABX3VL4AAAADklEQVR4nGNoaGBoaAAABgYCASzBUNcAAAAASUVORK5CYII=';
const TIMEOUT = 20; // seconds: the SDK's own cap on each run, so nothing hangs

const baseUrl = (process.argv[2] ?? process.env.WAVESPEED_BASE_URL ?? '').replace(/\/+$/, '');
const apiKey = process.argv[3] ?? process.env.WAVESPEED_API_KEY ?? '';
const pollInterval = Number(process.env.POLL_INTERVAL ?? 0.05);

function describe(error) {
  return {
    name: error?.name ?? typeof error,
    constructor: error?.constructor?.name ?? null,
    message: error?.message ?? String(error),
    taskId: error?.taskId ?? null,
  };
}

// Runs one step; a throw is recorded, not fatal, so every step gets its say.
async function step(fn) {
  try {
    return { threw: false, value: await fn() };
  } catch (error) {
    return { threw: true, error: describe(error) };
  }
}

async function download(url, path) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`GET ${url}: HTTP ${response.status}`);
  }
  const bytes = Buffer.from(await response.arrayBuffer());
  if (path) {
    await writeFile(path, bytes);
  }
  return { status: response.status, contentType: response.headers.get('content-type'), bytes };
}

async function main() {
  if (!baseUrl || !apiKey) {
    throw new Error('usage: node driver.mjs BASE_URL API_KEY (or WAVESPEED_BASE_URL, WAVESPEED_API_KEY)');
  }
  const client = new Client(apiKey, { baseUrl });
  const sample = (name, seconds) => `${baseUrl}/media/samples/${name}?seconds=${seconds}`;
  const results = { sdkVersion: version, node: process.version, baseUrl: client.baseUrl };
  const dir = await mkdtemp(join(tmpdir(), 'wavespeed-sdk-js-'));
  try {
    const leftPath = join(dir, 'left.wav');
    const videoPath = join(dir, 'video.mp4');
    await download(sample('silence.wav', 7.3), leftPath);
    await download(sample('video.mp4', 10), videoPath);

    results.upload = await step(async () => ({
      left_audio: await client.upload(leftPath),
      video: await client.upload(videoPath),
    }));
    const uploaded = results.upload.threw ? {} : results.upload.value;
    const job = {
      video: uploaded.video ?? sample('video.mp4', 10),
      left_audio: uploaded.left_audio ?? sample('silence.wav', 7.3),
      right_audio: sample('silence.wav', 2),
    };

    results.run = await step(async () => {
      const output = await client.run(MODEL, { ...job, order: 'left_right' }, { pollInterval, timeout: TIMEOUT });
      const fetched = await download(output.outputs[0]);
      return {
        outputs: output.outputs,
        keys: Object.keys(output),
        download: {
          status: fetched.status,
          contentType: fetched.contentType,
          size: fetched.bytes.length,
          ftyp: fetched.bytes.subarray(4, 8).toString('latin1') === 'ftyp',
        },
      };
    });

    results.failure = await step(() => client.run(MODEL, job, { pollInterval, timeout: TIMEOUT }));

    results.runNoThrow = await step(async () => {
      const { outputs, detail } = await client.runNoThrow(
        MODEL,
        { ...job, left_audio: job.video },
        { pollInterval, timeout: TIMEOUT },
      );
      return { outputs, detail: { ...detail, error: detail.error ? describe(detail.error) : null } };
    });

    results.sync = await step(() =>
      client.run(MODEL, { ...job, order: 'meanwhile' }, { enableSyncMode: true, timeout: TIMEOUT }),
    );

    const family = new Client(`${apiKey}-family`, { baseUrl });
    results.familyImage = await step(() =>
      family.run(
        IMAGE_MODEL,
        { image: PNG, audio: sample('silence.wav', 3.4) },
        { pollInterval, timeout: TIMEOUT },
      ),
    );
    results.familyVideoMulti = await step(() =>
      family.run(
        VIDEO_MULTI_MODEL,
        {
          video: sample('video.mp4', 10),
          left_audio: sample('silence.wav', 4),
          right_audio: sample('silence.wav', 6.5),
          order: 'left_right',
          resolution: '720p',
        },
        { pollInterval, timeout: TIMEOUT },
      ),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return results;
}

try {
  const results = await main();
  process.stdout.write(`${JSON.stringify(results)}\n`);
  process.exitCode = 0;
} catch (error) {
  process.stdout.write(`${JSON.stringify({ fatal: describe(error) })}\n`);
  process.exitCode = 1;
}
