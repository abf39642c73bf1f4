"""A seeded song generator: the score of one procedural song, stem by stem.

A song has a key (major or minor), a tempo and a feel (straight or swung eighths). Its
sections (intro, verse, chorus, bridge, outro) each have a chord progression and a drum
groove that ends with a fill. The bass follows the chord roots in a style picked per song;
"other" is two or three parts from different instrument families (piano, organ, guitar,
strings, pads, brass) comping, arpeggiating or sustaining the chords. The lead "vocal" is a
General MIDI voice patch singing phrases with rests, built from chord tones and passing
notes, with vibrato and scoops written as pitch-bend curves.

Everything comes from one ``numpy.random.Generator``, so a seed fixes the song.
Times are in beats (quarter notes); the renderer turns them into MIDI ticks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
PROGRESSIONS = {
    "major": [(0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 3), (5, 3, 0, 4), (0, 3, 0, 4), (1, 4, 0, 0), (0, 4, 3, 3)],
    "minor": [(0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 5, 3, 4), (0, 3, 6, 2), (5, 6, 0, 0)],
}
INSTRUMENT_FAMILIES = {
    "piano": (0, 1, 2, 4, 5),
    "organ": (16, 17, 18, 19),
    "guitar": (24, 25, 26, 27, 29),
    "strings": (48, 49, 50),
    "pad": (88, 89, 90, 91, 94, 95),
    "brass": (56, 57, 61, 62),
}
ROLES_BY_FAMILY = {
    "piano": ("comp", "arpeggio", "comp"),
    "organ": ("sustain", "comp"),
    "guitar": ("strum", "arpeggio", "strum"),
    "strings": ("sustain", "sustain", "arpeggio"),
    "pad": ("sustain",),
    "brass": ("stabs", "sustain"),
}
BASS_PROGRAMS = (32, 33, 34, 35, 36, 38, 39)
VOICE_PROGRAMS = (52, 53, 54, 85)  # choir aahs, voice oohs, synth voice, lead "voice"
DRUM_STYLES = ("rock", "pop", "funk", "halftime", "disco", "ballad", "shuffle")
BASS_STYLES = ("roots", "root-fifth", "octaves", "syncopated", "walking")
SECTION_PLANS = (
    ("intro", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "outro"),
    ("intro", "verse", "verse", "chorus", "bridge", "chorus", "chorus", "outro"),
    ("verse", "chorus", "verse", "chorus", "bridge", "chorus"),
)
KICK, SNARE, CLAP, HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE = 36, 38, 39, 42, 44, 46, 49, 51
TOMS = (50, 48, 47, 45, 43, 41)


@dataclass
class Note:
    start: float  # beats
    duration: float  # beats
    pitch: int
    velocity: int
    channel: int = 0


@dataclass
class Bend:
    time: float  # beats
    value: int  # -8192 .. 8191 (the renderer sets a +-2 semitone range)
    channel: int = 0


@dataclass
class Part:
    """One instrument of a stem: a GM program on a MIDI channel, its notes and pitch bends."""

    name: str
    program: int
    channel: int
    pan: int
    volume: int = 100
    notes: list[Note] = field(default_factory=list)
    bends: list[Bend] = field(default_factory=list)


@dataclass
class Section:
    kind: str
    start_bar: int
    bars: int
    chords: list[int]  # scale degree per bar
    groove: str


@dataclass
class Song:
    seed: int
    key: int  # pitch class of the tonic
    mode: str
    tempo: float  # quarter notes per minute
    swing: bool
    sections: list[Section]
    stems: dict[str, list[Part]]  # drums, bass, other, vocals

    @property
    def beats_per_second(self) -> float:
        return self.tempo / 60.0

    def describe(self) -> dict:
        return {
            "key": f"{NOTE_NAMES[self.key]} {self.mode}",
            "tempo": round(self.tempo, 1),
            "feel": "swing" if self.swing else "straight",
            "sections": [f"{s.kind}:{s.bars}" for s in self.sections],
            "instruments": {stem: [p.name for p in parts] for stem, parts in self.stems.items()},
        }


# --------------------------------------------------------------------------------------


def chord_tones(key: int, mode: str, degree: int, seventh: bool = False) -> list[int]:
    """Pitch classes (0-11, relative to C) of the diatonic triad or seventh on ``degree``."""
    scale = MAJOR if mode == "major" else MINOR
    steps = (0, 2, 4, 6) if seventh else (0, 2, 4)
    tones = []
    for step in steps:
        idx = degree + step
        tones.append((key + scale[idx % 7] + 12 * (idx // 7)) % 12)
    if mode == "minor" and degree == 4:  # harmonic minor: a major dominant
        tones[1] = (tones[1] + 1) % 12
    return tones


def nearest_pitch(pitch_class: int, target: int) -> int:
    """The MIDI pitch of ``pitch_class`` closest to ``target``."""
    base = target - ((target - pitch_class) % 12)
    return base if target - base <= 6 else base + 12


def _swung(beat: float, swing: bool) -> float:
    """Delay off-beat eighths to two thirds of the beat in a swing feel."""
    if swing and abs((beat % 1.0) - 0.5) < 1e-6:
        return beat - 0.5 + 2.0 / 3.0
    return beat


class Composer:
    def __init__(self, seed: int):
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def choice(self, options):
        return options[int(self.rng.integers(len(options)))]

    def compose(self, seconds: float) -> Song:
        rng = self.rng
        mode = "major" if rng.random() < 0.6 else "minor"
        key = int(rng.integers(12))
        drum_style = self.choice(DRUM_STYLES)
        swing = drum_style == "shuffle" or (drum_style in ("ballad", "pop") and rng.random() < 0.2)
        tempo = float(rng.uniform(*(70, 100) if drum_style in ("ballad", "halftime") else (90, 140)))
        total_bars = int(np.ceil(seconds * tempo / 60.0 / 4.0)) + 1
        sections = self._sections(mode, total_bars, drum_style)
        song = Song(self.seed, key, mode, tempo, swing, sections, {})
        song.stems["drums"] = [self._drums(song)]
        song.stems["bass"] = [self._bass(song)]
        song.stems["other"] = self._others(song)
        song.stems["vocals"] = [self._vocals(song)]
        return song

    # -- form ---------------------------------------------------------------------------

    def _sections(self, mode: str, total_bars: int, style: str) -> list[Section]:
        plan = self.choice(SECTION_PLANS)
        verse_prog, chorus_prog, bridge_prog = (self.choice(PROGRESSIONS[mode]) for _ in range(3))
        lengths = {"intro": 4 if total_bars >= 24 else 2, "verse": 8, "chorus": 8, "bridge": 4, "outro": 4}
        if total_bars < 12:  # a short excerpt starts where the singing does
            plan = tuple(kind for kind in plan if kind != "intro")
        sections, bar, k = [], 0, 0
        while bar < total_bars:
            kind = plan[k % len(plan)]
            prog = {"verse": verse_prog, "chorus": chorus_prog, "bridge": bridge_prog}.get(kind, chorus_prog)
            bars = min(lengths[kind], total_bars - bar)
            chords = [prog[i % len(prog)] for i in range(bars)]
            groove = "halftime" if kind == "bridge" and style in ("rock", "pop") else style
            sections.append(Section(kind, bar, bars, chords, groove))
            bar, k = bar + bars, k + 1
        return sections

    def _chord_at(self, song: Song, bar: int) -> int:
        for s in song.sections:
            if s.start_bar <= bar < s.start_bar + s.bars:
                return s.chords[bar - s.start_bar]
        return 0

    def _human(self, velocity: float, spread: float = 8) -> int:
        return int(np.clip(velocity + self.rng.normal(0, spread), 20, 127))

    # -- drums ----------------------------------------------------------------------------

    def _groove(self, style: str) -> list[tuple[float, int, float]]:
        """One bar of (beat, drum, velocity) for a groove."""
        hits: list[tuple[float, int, float]] = []
        eighths = [i * 0.5 for i in range(8)]
        sixteenths = [i * 0.25 for i in range(16)]
        if style == "rock":
            hits += [(b, HAT, 80 if b % 1 == 0 else 60) for b in eighths]
            hits += [(0, KICK, 105), (2, KICK, 100), (2.5, KICK, 80), (1, SNARE, 105), (3, SNARE, 105)]
        elif style == "pop":
            hits += [(b, HAT, 70 if b % 1 == 0 else 50) for b in sixteenths]
            hits += [(0, KICK, 105), (1.5, KICK, 85), (2, KICK, 100), (1, CLAP, 100), (3, SNARE, 105)]
        elif style == "funk":
            hits += [(b, HAT, 75 if b % 0.5 == 0 else 45) for b in sixteenths]
            hits += [(0, KICK, 110), (0.75, KICK, 80), (2.25, KICK, 90), (2.5, KICK, 85)]
            hits += [(1, SNARE, 110), (3, SNARE, 110), (1.75, SNARE, 40), (3.25, SNARE, 40)]
        elif style == "halftime":
            hits += [(b, HAT, 70) for b in eighths]
            hits += [(0, KICK, 105), (1.5, KICK, 80), (2, SNARE, 110)]
        elif style == "disco":
            hits += [(b, KICK, 105) for b in (0, 1, 2, 3)] + [(b + 0.5, OPEN_HAT, 75) for b in (0, 1, 2, 3)]
            hits += [(b, PEDAL_HAT, 55) for b in (0, 1, 2, 3)] + [(1, SNARE, 100), (3, SNARE, 100)]
        elif style == "ballad":
            hits += [(b, RIDE, 60) for b in eighths] + [(0, KICK, 90), (2.5, KICK, 70), (1, SNARE, 80), (3, SNARE, 85)]
        else:  # shuffle: swung eighths on the ride, the renderer swings the off-beats
            hits += [(b, RIDE, 70 if b % 1 == 0 else 55) for b in eighths]
            hits += [(0, KICK, 100), (2, KICK, 95), (1, SNARE, 100), (3, SNARE, 100), (3.5, SNARE, 40)]
        return hits

    def _fill(self, start: float) -> list[tuple[float, int, float]]:
        """The second half of a bar: a tom run, a snare roll or a syncopated break."""
        kind = int(self.rng.integers(3))
        if kind == 0:
            toms = TOMS[: 4 + int(self.rng.integers(3))]
            step = 2.0 / (len(toms) * 2)
            return [(start + i * step, toms[(i // 2) % len(toms)], 90 + 2 * i) for i in range(len(toms) * 2)]
        if kind == 1:
            return [(start + i * 0.25, SNARE, 60 + 6 * i) for i in range(8)]
        return [(start, SNARE, 100), (start + 0.75, SNARE, 90), (start + 1.5, TOMS[2], 100), (start + 1.75, TOMS[4], 105)]

    def _drums(self, song: Song) -> Part:
        part = Part("drums (GM standard kit)", 0, 9, 64, 110)
        for section in song.sections:
            groove = self._groove(section.groove)
            for bar in range(section.bars):
                origin = 4.0 * (section.start_bar + bar)
                last = bar == section.bars - 1 and section.bars > 1
                for beat, drum, vel in groove:
                    if last and beat >= 2.0:
                        continue
                    part.notes.append(Note(origin + _swung(beat, song.swing), 0.25, drum, self._human(vel), 9))
                if last:
                    for beat, drum, vel in self._fill(origin + 2.0):
                        part.notes.append(Note(beat, 0.25, drum, self._human(vel, 5), 9))
                if bar == 0 and section.kind != "intro":
                    part.notes.append(Note(origin, 1.0, CRASH, self._human(105), 9))
        return part

    # -- bass ----------------------------------------------------------------------------

    def _bass(self, song: Song) -> Part:
        style = self.choice(BASS_STYLES if song.swing else BASS_STYLES[:4])
        if song.swing and self.rng.random() < 0.6:
            style = "walking"
        program = self.choice(BASS_PROGRAMS)
        part = Part(f"bass (GM {program}, {style})", program, 1, 64, 105)
        n_bars = sum(s.bars for s in song.sections)
        for bar in range(n_bars):
            degree = self._chord_at(song, bar)
            tones = chord_tones(song.key, song.mode, degree)
            root = nearest_pitch(tones[0], 38)
            fifth = nearest_pitch(tones[2], root + 7)
            nxt = nearest_pitch(chord_tones(song.key, song.mode, self._chord_at(song, bar + 1))[0], 38)
            origin = 4.0 * bar
            if style == "roots":
                events = [(0, root, 2.0), (2, root, 1.5), (3.5, root, 0.5)]
            elif style == "root-fifth":
                events = [(0, root, 1.5), (1.5, root, 0.5), (2, fifth, 1.5), (3.5, root + 12, 0.5)]
            elif style == "octaves":
                events = [(b * 0.5, root + (12 if i % 2 else 0), 0.45) for i, b in enumerate(range(8))]
            elif style == "syncopated":
                events = [(0, root, 0.75), (0.75, root, 0.75), (1.5, fifth, 0.5), (2.5, root, 0.5), (3, root + 12, 0.5),
                          (3.5, fifth, 0.5)]  # fmt: skip
            else:  # walking: chord tones, then a chromatic approach to the next root
                third = nearest_pitch(tones[1], root + 4)
                approach = nxt - 1 if self.rng.random() < 0.5 else nxt + 1
                events = [(0, root, 0.95), (1, third, 0.95), (2, fifth, 0.95), (3, approach, 0.95)]
            for beat, pitch, dur in events:
                accent = 100 if beat % 1 == 0 else 85
                part.notes.append(Note(origin + _swung(beat, song.swing), dur, pitch, self._human(accent, 6), 1))
        return part

    # -- other ---------------------------------------------------------------------------

    def _others(self, song: Song) -> list[Part]:
        families = list(INSTRUMENT_FAMILIES)
        order = self.rng.permutation(len(families))
        count = 2 + int(self.rng.integers(2))
        parts = []
        for k, idx in enumerate(order[:count]):
            family = families[int(idx)]
            program = self.choice(INSTRUMENT_FAMILIES[family])
            role = self.choice(ROLES_BY_FAMILY[family])
            channel = 2 + k
            pan = int(np.clip(64 + (k - (count - 1) / 2) * 40 + self.rng.normal(0, 6), 8, 120))
            part = Part(f"{family} (GM {program}, {role})", program, channel, pan, 90)
            register = 60 if family in ("piano", "guitar", "organ") else 64
            for section in song.sections:
                if section.kind == "intro" and k > 0:
                    continue  # a thinner intro
                for bar in range(section.bars):
                    abs_bar = section.start_bar + bar
                    tones = chord_tones(song.key, song.mode, section.chords[bar], seventh=self.rng.random() < 0.3)
                    voicing = sorted(nearest_pitch(t, register + 2 * i) for i, t in enumerate(tones))
                    self._play_role(part, role, voicing, 4.0 * abs_bar, song.swing, channel)
            parts.append(part)
        return parts

    def _play_role(self, part: Part, role: str, voicing: list[int], origin: float, swing: bool, channel: int) -> None:
        add = part.notes.append
        if role == "sustain":
            for p in voicing:
                add(Note(origin, 3.95, p, self._human(70, 5), channel))
        elif role == "comp":
            for beat, dur in ((0, 1.0), (1.5, 0.5), (2.5, 1.0), (3.5, 0.5)):
                for p in voicing:
                    add(Note(origin + _swung(beat, swing), dur * 0.9, p, self._human(78), channel))
        elif role == "arpeggio":
            pattern = voicing + [voicing[0] + 12] + voicing[1:][::-1]
            for i in range(8):
                add(Note(origin + _swung(i * 0.5, swing), 0.45, pattern[i % len(pattern)], self._human(72), channel))
        elif role == "strum":
            for beat in (0, 1, 1.5, 2.5, 3):
                down = beat % 1 == 0
                for j, p in enumerate(voicing if down else voicing[::-1]):
                    add(Note(origin + _swung(beat, swing) + 0.02 * j, 0.45, p, self._human(80 if down else 65), channel))
        else:  # stabs
            for beat in (0, 1.5) if self.rng.random() < 0.5 else (0.5, 2.5, 3.5):
                for p in voicing:
                    add(Note(origin + _swung(beat, swing), 0.35, p, self._human(95), channel))

    # -- vocals --------------------------------------------------------------------------

    def _vocals(self, song: Song) -> Part:
        program = self.choice(VOICE_PROGRAMS)
        register = 57 + int(self.rng.integers(-3, 8))  # a low to a high voice
        part = Part(f"lead voice (GM {program})", program, 8, 64, 110)
        scale = MAJOR if song.mode == "major" else MINOR
        scale_pcs = [(song.key + s) % 12 for s in scale]
        rhythms = (
            (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),
            (0.0, 1.0, 1.5, 2.0, 2.5),
            (0.5, 1.0, 1.5, 2.5, 3.0),
            (0.0, 0.75, 1.5, 2.0, 3.0, 3.5),
            (0.0, 2.0),
        )
        previous = register
        for section in song.sections:
            if section.kind in ("intro", "outro") or (section.kind == "bridge" and self.rng.random() < 0.5):
                continue  # instrumental sections: the vocal stem is silent there
            lift = 3 if section.kind == "chorus" else 0
            for phrase_bar in range(0, section.bars, 2):
                # a two-bar phrase: sing one or two bars, rest for the remainder
                sung_bars = 1 + int(self.rng.random() < 0.6)
                for bar in range(phrase_bar, min(phrase_bar + sung_bars, section.bars)):
                    origin = 4.0 * (section.start_bar + bar)
                    tones = chord_tones(song.key, song.mode, section.chords[bar])
                    onsets = list(self.choice(rhythms))
                    ends = onsets[1:] + [4.0 if bar < phrase_bar + sung_bars - 1 else onsets[-1] + 1.5]
                    for beat, end in zip(onsets, ends):
                        strong = beat % 1 == 0
                        pool = tones if strong or self.rng.random() < 0.5 else scale_pcs
                        target = previous + int(self.rng.integers(-4, 5))
                        target = int(np.clip(target, register - 5 + lift, register + 9 + lift))
                        pitch = nearest_pitch(self.choice(pool), target)
                        start = origin + _swung(beat, song.swing)
                        duration = max(min(end, 4.0) - beat - 0.08, 0.2)
                        part.notes.append(Note(start, duration, pitch, self._human(92, 6), 8))
                        self._expression(part, start, duration, song.beats_per_second)
                        previous = pitch
        return part

    def _expression(self, part: Part, start: float, duration: float, beats_per_second: float) -> None:
        """Pitch bends for one sung note: sometimes a scoop up into it, then delayed vibrato
        (5-6.5 Hz, about +-25 cents), back to centre at the end (bend range +-2 semitones)."""
        step = 0.02 * beats_per_second  # a bend every 20 ms
        semitone = 8192 / 2
        t = start
        if self.rng.random() < 0.35:
            depth = self.rng.uniform(0.5, 1.5)
            for i in range(5):
                part.bends.append(Bend(t + i * step, int(-depth * semitone * (1 - i / 5)), part.channel))
            t += 5 * step
        rate = self.rng.uniform(5.0, 6.5) / beats_per_second  # cycles per beat
        depth = self.rng.uniform(0.15, 0.3) * semitone
        onset = start + min(0.3 * beats_per_second, duration / 2)
        while t < start + duration:
            ramp = min(max((t - onset) / (0.2 * beats_per_second), 0.0), 1.0) if t > onset else 0.0
            value = ramp * depth * np.sin(2 * np.pi * rate * (t - onset))
            part.bends.append(Bend(t, int(value), part.channel))
            t += step
        part.bends.append(Bend(start + duration, 0, part.channel))
