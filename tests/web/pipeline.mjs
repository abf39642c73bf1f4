// node tests/web/pipeline.mjs DIR: runs web/lightsep.js's functions on what tests/test_web.py
// wrote into DIR (spec.json and float32 files) and writes their results there, for Python to
// compare with lightsep's own.
import fs from "node:fs";
import path from "node:path";
import { encodeWav, overlapAdd, resample, silenceGate, sniffSampleRate } from "../../web/lightsep.js";

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
write("gate.f32", [silenceGate(signal, spec.rate, spec.floor_db, spec.open_db)]);
for (const [from, to] of spec.resample) write(`resample-${from}-${to}.f32`, resample(signal, from, to));
const rates = {};
for (const name of spec.sniff) rates[name] = sniffSampleRate(new Uint8Array(fs.readFileSync(path.join(dir, name))));
fs.writeFileSync(path.join(dir, "sniffed.json"), JSON.stringify(rates));
fs.writeFileSync(path.join(dir, "encoded.wav"), Buffer.from(encodeWav(signal, spec.rate)));
