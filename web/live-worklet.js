// Live mode's audio thread (an AudioWorkletProcessor): every 128-sample render quantum of the
// input goes to the separation worker (worker.js) on the MessagePort the page hands over, and
// the stems that come back are played `delay` samples after their input arrived: the model's
// latency plus a buffer for the worker's computing and the messages' travel. A quantum whose
// samples have not come back in time is played as silence (an underrun) and those samples are
// dropped when they arrive, so the delay never grows.
class LiveProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { delay, sources, channels } = options.processorOptions;
    this.delay = delay;
    this.sources = sources;
    this.channels = channels;
    this.queue = []; // arrays of stems (sources x channels, Float32Array each), oldest first
    this.offset = 0; // samples of queue[0] already played
    this.listen = 0; // the stem played: its index, or -1 for the input itself
    this.received = 0;
    this.played = 0;
    this.debt = 0; // samples played as silence that are still to come back
    this.underruns = 0;
    this.loudest = 0; // the loudest sample played since the start (0: only silence so far)
    this.port.onmessage = ({ data }) => {
      if (data.worker) {
        this.worker = data.worker;
        this.worker.onmessage = ({ data: reply }) => this.queue.push(reply.stems);
      }
      if (data.listen !== undefined) this.listen = data.listen;
    };
  }

  process(inputs, outputs) {
    const output = outputs[0];
    const n = output[0].length;
    const input = inputs[0];
    // the model's channels: a mono input is copied to both, silence when nothing is connected
    const block = Array.from({ length: this.channels }, (_, c) =>
      input.length ? Float32Array.from(input[c % input.length]) : new Float32Array(n),
    );
    if (this.worker) {
      this.worker.postMessage({ input: block }, block.map((b) => b.buffer));
      this.received += n;
    }
    let missing = false;
    for (let i = 0; i < n; i++, this.played++) {
      if (this.played < this.delay || !this.worker) continue;
      if (!this.advance()) {
        missing = true;
        this.debt++;
        continue;
      }
      const stems = this.queue[0];
      const at = this.offset++;
      for (let c = 0; c < output.length; c++) {
        const channel = c % this.channels;
        let value = 0;
        if (this.listen < 0) for (let s = 0; s < this.sources; s++) value += stems[s * this.channels + channel][at];
        else value = stems[this.listen * this.channels + channel][at];
        output[c][i] = value;
        this.loudest = Math.max(this.loudest, Math.abs(value));
      }
    }
    if (missing) this.underruns++;
    if (this.played % 8192 < n) {
      this.port.postMessage({ received: this.received, played: this.played, underruns: this.underruns, loudest: this.loudest });
    }
    return true;
  }

  /** Whether a sample is there to play at queue[0][offset], once the samples owed (played as
   * silence) and the blocks played out are dropped. */
  advance() {
    while (this.queue.length) {
      const length = this.queue[0][0].length;
      if (this.debt > 0 && this.offset < length) {
        const skip = Math.min(this.debt, length - this.offset);
        this.offset += skip;
        this.debt -= skip;
      }
      if (this.offset < length) return true;
      this.queue.shift();
      this.offset = 0;
    }
    return false;
  }
}

registerProcessor("lightsep-live", LiveProcessor);
