// node tests/web/pipeline.mjs DIR: runs web/lightsep.js's functions on what tests/test_web.py
// wrote into DIR (spec.json and float32 files) and writes their results there, for Python to
// compare with lightsep's own.
import fs from "node:fs";
import path from "node:path";
import { FrameEngine, SilenceGate, convertChannels, encodeWav, overlapAdd, resample, silenceGate, sniffSampleRate } from "../../web/lightsep.js";

const dir = process.argv[2];
const spec = JSON.parse(fs.readFileSync(path.join(dir, "spec.json"), "utf8"));
const read = (name, channels) => {
  const data = new Float32Array(fs.readFileSync(path.join(dir, name)).buffer.slice(0));
  const length = data.length / channels;
  return Array.from({ length: channels }, (_, c) => data.slice(c * length, (c + 1) * length));
};
const write = (name, arrays) => {
  const parts = arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  fs.writeFileSync(path.join(dir, name), Buffer.concat(parts));
};

const signal = read("signal.f32", spec.channels);
const { meta } = spec;

// a stand-in for the model: source s is the output region of the segment times (1 + s / 2) * (1 + i / output)
const model = async (batch, n) => {
  const { context_samples: context, output_samples: output, output_offset: offset } = meta;
  const sources = meta.sources.length;
  const out = new Float32Array(n * sources * output);
  for (let b = 0; b < n; b++) {
    for (let s = 0; s < sources; s++) {
      for (let i = 0; i < output; i++) {
        out[(b * sources + s) * output + i] = batch[b * context + offset + i] * (1 + s / 2) * (1 + i / output);
      }
    }
  }
  return out;
};
const estimates = await overlapAdd(signal, meta, model);
write("overlap_add.f32", estimates.flat());

// a multichannel model sees every channel of a segment at once: source s is the region of
// channel c times (1 + s / 2) * (1 + c) plus the other channel's region times 0.25
const jointModel = async (batch, n) => {
  const { context_samples: context, output_samples: output, output_offset: offset } = meta;
  const sources = meta.sources.length;
  const channels = spec.channels;
  const out = new Float32Array(n * sources * channels * output);
  for (let b = 0; b < n; b++) {
    for (let s = 0; s < sources; s++) {
      for (let c = 0; c < channels; c++) {
        const other = (c + 1) % channels;
        for (let i = 0; i < output; i++) {
          const here = batch[(b * channels + c) * context + offset + i];
          const there = batch[(b * channels + other) * context + offset + i];
          out[((b * sources + s) * channels + c) * output + i] = here * (1 + s / 2) * (1 + c) + 0.25 * there;
        }
      }
    }
  }
  return out;
};
write("overlap_add_joint.f32", (await overlapAdd(signal, { ...meta, audio_channels: spec.channels }, jointModel)).flat());
for (const count of [1, 3]) write(`convert-${count}.f32`, convertChannels(signal, count));
write("convert-up.f32", convertChannels([signal[0]], 2));
write("gate.f32", [silenceGate(signal, spec.rate, spec.floor_db, spec.open_db)]);
// the same gate over the signal in uneven blocks
const gate = new SilenceGate(spec.rate, spec.floor_db, spec.open_db);
const blockGains = [];
for (let at = 0, k = 0; at < signal[0].length; k++) {
  const n = [1, 700, 37, 2048][k % 4];
  blockGains.push(gate.gains(signal.map((c) => c.subarray(at, at + n))));
  at += n;
}
write("gate-blocks.f32", blockGains);

// frame by frame, with a stand-in for a causal model's frame step (test_web.py's FakeCausalModel):
// the first source's mask is m / (m + 1 + state), the state after a frame 0.9 state + 0.1 mean(m)
const framesOf = (frames) => ({ ...frames, direct_sources: [0], sources: ["a", "rest"], state_shape: [1, 1, 1] });
const step = async (magnitude, frames, state) => {
  const values = magnitude.length / frames;
  const masks = new Float32Array(magnitude.length);
  let s = state[0];
  for (let k = 0; k < frames; k++) {
    let mean = 0;
    for (let v = 0; v < values; v++) {
      const m = magnitude[v * frames + k];
      masks[v * frames + k] = m / (m + 1 + s);
      mean += m;
    }
    s = Math.fround(0.9 * s + (0.1 * mean) / values);
  }
  return { masks, state: Float32Array.of(s) };
};
const joined = (parts) => signal.map((_, c) => {
  const out = new Float32Array(parts.reduce((n, p) => n + p[0][c].length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p[0][c], at);
    at += p[0][c].length;
  }
  return out;
});
for (const [prefix, frames] of [["frames", spec.frames], ["low-delay-frames", spec.low_delay_frames]]) {
  const wholeEngine = new FrameEngine(framesOf(frames), step);
  const whole = [await wholeEngine.push(signal), await wholeEngine.flush()];
  const blockEngine = new FrameEngine(framesOf(frames), step);
  const blocks = [];
  for (let at = 0, k = 0; at < signal[0].length; k++) {
    const n = [441, 1, 3000, 128][k % 4];
    blocks.push(await blockEngine.push(signal.map((c) => c.subarray(at, at + n))));
    at += n;
  }
  blocks.push(await blockEngine.flush());
  write(`${prefix}-whole.f32`, joined(whole));
  write(`${prefix}-blocks.f32`, joined(blocks));
}
for (const [from, to] of spec.resample) write(`resample-${from}-${to}.f32`, resample(signal, from, to));
const rates = {};
for (const name of spec.sniff) rates[name] = sniffSampleRate(new Uint8Array(fs.readFileSync(path.join(dir, name))));
fs.writeFileSync(path.join(dir, "sniffed.json"), JSON.stringify(rates));
fs.writeFileSync(path.join(dir, "encoded.wav"), Buffer.from(encodeWav(signal, spec.rate)));
