// The page: read and decode a file, have the worker separate it (worker.js), and show the
// stems (waveforms, a spectrogram, playback with solo, WAV downloads). Nothing leaves
// the machine: the file is read here and the model runs in this tab.
import { encodeWav, sniffSampleRate } from "./lightsep.js";
import { drawSpectrogram, drawWaveform } from "./views.js";

const MAX_SECONDS = 10 * 60; // separating holds several copies of the song in memory (docs/web.md, "Limits")
const DEFAULT_RATE = 44100; // the stems' rate when the file's header does not say

const $ = (id) => document.getElementById(id);
const page = { models: [], result: null, error: null, busy: false, player: null, solo: new Set(), live: null };
window.lightsep = page; // read by the browser test

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const replies = new Map(); // the worker's messages go to the job (or "live") they name
worker.onmessage = ({ data }) => replies.get(data.id)?.(data);
let nextJob = 0;

function setState(state, message = "") {
  document.body.dataset.state = state;
  $("status").textContent = message;
  $("status").className = state === "error" ? "error" : "";
}

function setProgress(fraction) {
  $("progress").value = Math.round(1000 * fraction);
}

class UserError extends Error {}

function clock(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** The file's duration from the browser's media element, without decoding it all. */
function probeDuration(file) {
  return new Promise((resolve, reject) => {
    const audio = document.createElement("audio");
    const url = URL.createObjectURL(file);
    const done = (fn, value) => {
      clearTimeout(timer);
      audio.removeAttribute("src");
      audio.load();
      URL.revokeObjectURL(url);
      fn(value);
    };
    const timer = setTimeout(() => done(resolve, null), 15000); // unknown: decoding will tell
    audio.preload = "metadata";
    audio.onloadedmetadata = () => done(resolve, audio.duration);
    audio.onerror = () => done(reject, new UserError(`${file.name}: not an audio file this browser can read`));
    audio.src = url;
  });
}

async function decode(bytes, sampleRate, name) {
  const context = new OfflineAudioContext(1, 1, sampleRate);
  try {
    return await context.decodeAudioData(bytes.slice(0));
  } catch {
    throw new UserError(`${name}: not an audio file this browser can decode`);
  }
}

function channelsOf(buffer) {
  return Array.from({ length: buffer.numberOfChannels }, (_, c) => buffer.getChannelData(c));
}

function runWorker(modelUrl, meta, mixture, rate) {
  const id = nextJob++;
  return new Promise((resolve, reject) => {
    replies.set(id, (data) => {
      if (data.progress !== undefined) return setProgress(0.05 + 0.95 * data.progress);
      replies.delete(id);
      if (data.error) reject(new Error(data.error));
      else resolve(data);
    });
    worker.onerror = (event) => reject(new Error(event.message || "the separation worker failed"));
    // copied out of the decoded AudioBuffer once, then handed over (transferred, not cloned again)
    const copies = mixture.map((c) => Float32Array.from(c));
    worker.postMessage({ id, modelUrl, meta, mixture: copies, rate }, copies.map((c) => c.buffer));
  });
}

async function separate(file) {
  const meta = page.models.find((m) => m.name === $("model").value);
  const started = performance.now();
  if (file.size === 0) throw new UserError(`${file.name}: the file is empty (0 bytes)`);
  const duration = await probeDuration(file);
  const refuseLong = (seconds) => {
    if (seconds > MAX_SECONDS) throw new UserError(`${file.name} is ${clock(seconds)} long; this page separates up to ${clock(MAX_SECONDS)} at a time`);
  };
  if (Number.isFinite(duration)) refuseLong(duration); // before decoding, from the file's metadata
  const bytes = new Uint8Array(await file.arrayBuffer());
  const stated = sniffSampleRate(bytes);
  const rate = stated >= 8000 && stated <= 384000 ? stated : DEFAULT_RATE;
  const mixture = channelsOf(await decode(bytes.buffer, rate, file.name));
  if (mixture[0].length === 0) throw new UserError(`${file.name}: no audio in the file`);
  refuseLong(mixture[0].length / rate); // where the browser could not tell the duration
  setProgress(0.05);
  const { stems, modelSeconds, threads } = await runWorker(meta.url, meta, mixture, rate);
  const length = mixture[0].length;
  const seconds = (performance.now() - started) / 1000;
  return { name: file.name, model: meta.name, rate, stems, seconds, modelSeconds, threads, audioSeconds: length / rate };
}

async function handleFile(file) {
  if (page.busy || !file) return;
  page.busy = true;
  page.error = null;
  stopPlayback();
  $("file").disabled = $("model").disabled = true;
  setProgress(0);
  setState("working", `Separating ${file.name}…`);
  try {
    page.result = await separate(file);
    setProgress(1);
    showResult(page.result);
    const r = page.result;
    setState("done", `${r.name}: ${r.audioSeconds.toFixed(1)} s separated in ${r.seconds.toFixed(1)} s ` +
      `(${(r.audioSeconds / r.seconds).toFixed(1)}x real time, ${r.threads} thread${r.threads > 1 ? "s" : ""}), ${r.rate} Hz, ${r.model}`);
  } catch (error) {
    page.error = error instanceof UserError ? error.message : `${file.name}: ${error.message || error}`;
    setProgress(0);
    setState("error", page.error);
  } finally {
    page.busy = false;
    $("file").disabled = $("model").disabled = false;
    $("file").value = "";
  }
}

// -- the result ------------------------------------------------------------------------------

function showResult(result) {
  const list = $("stems");
  list.replaceChildren();
  page.solo.clear();
  let peak = 1e-6; // every stem on one scale: the loudest sample of any of them at full height
  for (const channels of Object.values(result.stems)) for (const c of channels) for (const v of c) peak = Math.max(peak, Math.abs(v));
  for (const [name, channels] of Object.entries(result.stems)) {
    const row = document.createElement("div");
    row.className = "stem";
    row.dataset.stem = name;
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    const canvas = document.createElement("canvas");
    canvas.width = 600;
    canvas.height = 56;
    const solo = button("Solo", () => {
      page.solo.has(name) ? page.solo.delete(name) : page.solo.add(name);
      solo.classList.toggle("on", page.solo.has(name));
      applySolo();
    });
    const view = button("Spectrogram", () => showSpectrogram(name));
    const link = document.createElement("a");
    link.textContent = "WAV";
    link.download = `${result.name.replace(/\.[^.]*$/, "")}.${name}.wav`;
    link.href = URL.createObjectURL(new Blob([encodeWav(channels, result.rate)], { type: "audio/wav" }));
    row.append(label, canvas, solo, view, link);
    list.append(row);
    drawWaveform(canvas, channels, peak);
  }
  $("result").hidden = false;
  showSpectrogram(Object.keys(result.stems)[0]);
}

function button(text, onClick) {
  const b = document.createElement("button");
  b.textContent = text;
  b.onclick = onClick;
  return b;
}

function showSpectrogram(name) {
  const result = page.result;
  $("spectrogram-label").textContent = `Spectrogram: ${name}`;
  drawSpectrogram($("spectrogram"), result.stems[name], result.rate);
}

function stopPlayback() {
  if (page.player) {
    page.player.sources.forEach((s) => s.stop());
    page.player.context.close();
    page.player = null;
  }
  $("play").textContent = "Play";
}

function applySolo() {
  if (!page.player) return;
  for (const [name, gain] of Object.entries(page.player.gains)) {
    gain.gain.value = page.solo.size === 0 || page.solo.has(name) ? 1 : 0;
  }
}

function togglePlayback() {
  if (page.player) return stopPlayback();
  const result = page.result;
  const context = new AudioContext({ sampleRate: result.rate });
  const gains = {};
  const sources = Object.entries(result.stems).map(([name, channels]) => {
    const buffer = context.createBuffer(channels.length, channels[0].length, result.rate);
    channels.forEach((signal, c) => buffer.copyToChannel(signal, c));
    const source = context.createBufferSource();
    source.buffer = buffer;
    gains[name] = context.createGain();
    source.connect(gains[name]).connect(context.destination);
    return source;
  });
  page.player = { context, sources, gains };
  applySolo();
  const at = context.currentTime + 0.05;
  sources.forEach((s) => s.start(at));
  sources[0].onended = () => page.player?.context === context && stopPlayback();
  $("play").textContent = "Stop";
}

// -- live: the microphone or a playing file, separated as it plays (live-worklet.js, worker.js) --

const LIVE_BUFFER = 512; // samples of the model's rate between a block's input and its output, beyond the model's latency

function setLive(message, error = false) {
  $("live-status").textContent = message;
  $("live-status").className = error ? "error" : "";
}

/** Start live separation from the microphone (file null) or a file played in real time. */
async function startLive(file) {
  await stopLive();
  const meta = page.models.find((m) => m.kind === "frames" && m.name === $("live-model").value);
  const context = new AudioContext({ sampleRate: meta.sample_rate, latencyHint: "interactive" });
  const live = { meta, context, stream: null, audio: null, node: null, stats: {}, frames: 0, busiestMs: 0, error: null };
  page.live = live;
  $("live-stop").disabled = false;
  try {
    setLive("Starting…");
    let source;
    if (file) {
      live.audio = new Audio(URL.createObjectURL(file));
      source = context.createMediaElementSource(live.audio);
    } else {
      live.stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
      source = context.createMediaStreamSource(live.stream);
    }
    await context.audioWorklet.addModule(new URL("./live-worklet.js", import.meta.url));
    const started = new Promise((resolve, reject) => {
      replies.set("live", (data) => {
        if (data.error) {
          live.error = data.error;
          setLive(`Live separation stopped: ${data.error}`, true);
          return reject(new Error(data.error));
        }
        if (data.started) resolve(data.started);
        if (data.stats) Object.assign(live, data.stats);
      });
    });
    const channel = new MessageChannel();
    worker.postMessage({ live: "start", modelUrl: meta.url, meta, port: channel.port2 }, [channel.port2]);
    const { latencySamples } = await started;
    live.latencyMs = (1000 * (latencySamples + LIVE_BUFFER)) / meta.sample_rate;
    live.modelMs = (1000 * latencySamples) / meta.sample_rate;
    live.bufferMs = (1000 * LIVE_BUFFER) / meta.sample_rate;
    live.node = new AudioWorkletNode(context, "lightsep-live", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [meta.audio_channels],
      channelCount: meta.audio_channels,
      channelCountMode: "explicit",
      processorOptions: { delay: latencySamples + LIVE_BUFFER, sources: meta.sources.length, channels: meta.audio_channels },
    });
    live.node.port.onmessage = ({ data }) => Object.assign(live.stats, data);
    live.node.port.postMessage({ worker: channel.port1, listen: Number($("live-stem").value) }, [channel.port1]);
    source.connect(live.node).connect(context.destination);
    await context.resume();
    if (live.audio) {
      live.audio.onended = () => stopLive();
      await live.audio.play();
    }
    live.timer = setInterval(() => {
      worker.postMessage({ live: "stats" });
      showLive(live);
    }, 250);
    showLive(live);
  } catch (error) {
    const message = error.name === "NotAllowedError" ? "the microphone was not allowed" : error.message || String(error);
    await stopLive();
    live.error = message;
    setLive(`Live separation could not start: ${message}`, true);
  }
}

function showLive(live) {
  const device = 1000 * ((live.context.baseLatency || 0) + (live.context.outputLatency || 0));
  const seconds = (live.stats.played || 0) / live.meta.sample_rate;
  setLive(`${live.audio ? "File" : "Microphone"}, ${live.meta.name}: ${live.latencyMs.toFixed(1)} ms latency ` +
    `(model ${live.modelMs.toFixed(1)} ms + buffer ${live.bufferMs.toFixed(1)} ms; the audio device adds ${device.toFixed(1)} ms), ` +
    `${seconds.toFixed(1)} s, ${live.frames} frames, ${live.stats.underruns || 0} underruns, slowest frame ${live.busiestMs.toFixed(1)} ms`);
}

async function stopLive() {
  const live = page.live;
  if (!live || live.stopped) return;
  live.stopped = true;
  clearInterval(live.timer);
  worker.postMessage({ live: "stop" });
  live.audio?.pause();
  live.stream?.getTracks().forEach((track) => track.stop());
  live.node?.disconnect();
  await live.context.close();
  $("live-stop").disabled = true;
  $("live-file").value = "";
  if (!live.error) setLive(`Stopped. ${$("live-status").textContent}`);
}

function setUpLive() {
  const live = page.models.filter((m) => m.kind === "frames");
  if (!live.length) return;
  for (const model of live) {
    const option = document.createElement("option");
    option.value = model.name;
    option.textContent = `${model.name} (${(1000 * model.latency_samples / model.sample_rate).toFixed(1)} ms)`;
    $("live-model").append(option);
  }
  const listStems = () => {
    const meta = live.find((m) => m.name === $("live-model").value);
    $("live-stem").replaceChildren();
    for (const [index, name] of [...meta.sources.map((name, i) => [i, name]), [-1, "mixture"]]) {
      const option = document.createElement("option");
      option.value = index;
      option.textContent = name;
      $("live-stem").append(option);
    }
  };
  listStems();
  $("live-model").onchange = async () => {
    await stopLive();
    listStems();
  };
  $("live-stem").onchange = () => page.live?.node?.port.postMessage({ listen: Number($("live-stem").value) });
  $("live-mic").onclick = () => startLive(null);
  $("live-file").onchange = () => $("live-file").files[0] && startLive($("live-file").files[0]);
  $("live-stop").onclick = () => stopLive();
  $("live").hidden = false;
}

// -- start -----------------------------------------------------------------------------------

async function start() {
  $("file").onchange = () => handleFile($("file").files[0]);
  $("play").onclick = togglePlayback;
  const drop = $("drop");
  drop.ondragover = (event) => {
    event.preventDefault();
    drop.classList.add("over");
  };
  drop.ondragleave = () => drop.classList.remove("over");
  drop.ondrop = (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    handleFile(event.dataTransfer.files[0]);
  };
  try {
    const response = await fetch("models/index.json");
    if (!response.ok) throw new Error(`models/index.json: HTTP ${response.status}`);
    page.models = await response.json();
    for (const model of page.models) {
      const option = document.createElement("option");
      option.value = model.name;
      option.textContent = `${model.name}: ${model.sources.join(", ")}`;
      $("model").append(option);
    }
    setUpLive();
    setState("idle", crossOriginIsolated ? "" : "Not cross-origin isolated: the model runs on one thread.");
  } catch (error) {
    setState("error", `Could not load the models: ${error.message}`);
  }
}

start();
