"""Speaker identification on real voices: enrol, diarize episodes made of other recordings, sweep thresholds.

Voices (Debian packages, real recorded speech):

* enrolled: the two fish of ``fillets-ng-data-cs`` (Czech; ``-m-`` clips are the small fish, ``font_small``
  in the game's scripts, ``-v-`` the big fish, ``font_big``), enrolled from the first ENROL_LEVELS levels and
  heard in later levels (other lines, other recording sessions); and the Italian voice of
  ``asterisk-prompt-it-menardi-wav``, enrolled from the first half of her prompts and heard in the second;
* impostors, never enrolled: ``asterisk-prompt-fr-armelle``, ``asterisk-prompt-es-co`` and four talkers of
  ``codec2-examples``.

Each episode is about EPISODE_S seconds of alternating clips of two or three of these speakers (hosts with a
guest, one host with a guest, impostors alone), diarized by podscribe's real diarizer. Each diarized speaker
takes the reference identity it overlaps most; its centroid is scored against the enrolled voices with
``pipeline.voices.match`` for a sweep of (min_score, min_margin):

* accuracy: share of diarized speakers who are an enrolled voice and get that voice's name;
* wrong name: share of those who get another enrolled voice's name;
* false accept: share of diarized impostors who get any name;
* voice named: share of (episode, enrolled voice speaking in it) pairs where that voice names one of the
  episode's speakers (a host split into two clusters by the diarizer counts once here, as a miss above).

The per-episode centroids are cached in ``.cache/voices-bench/`` so that the sweep can be re-run at once.
Run from the repo root: ``python -m benchmarks.voices [--episodes 16]``; needs the packages above.
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

from pipeline.decode import decode  # noqa: E402
from pipeline.voices.match import MatchOptions, name_speakers  # noqa: E402

FILLETS = Path("/usr/share/games/fillets-ng/sound")
ASTERISK = Path("/usr/share/asterisk/sounds")
CODEC2 = Path("/usr/share/codec2/wav")
CACHE = REPO / ".cache" / "voices-bench"
ENROL_LEVELS = 3
EPISODE_S = 40.0
GAP_S = 0.3
MENARDI_ENROL = 40  # prompts (of 277 in the first half), about a minute of speech
SCORES = tuple(round(0.2 + 0.05 * i, 2) for i in range(13))
MARGINS = (0.0, 0.05, 0.1, 0.2)


def fillets_clips(tag: str) -> tuple[list[Path], list[Path]]:
    levels = sorted(p.name for p in FILLETS.iterdir())
    clips = lambda lv: sorted(p for level in lv for p in (FILLETS / level / "cs").glob(f"*-{tag}-*.ogg"))
    return clips(levels[:ENROL_LEVELS]), clips(levels[ENROL_LEVELS:])


def halves(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    return paths[: len(paths) // 2], paths[len(paths) // 2:]


def speakers() -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """(enrolment clips per enrolled voice, test clips per speaker: enrolled voices and impostors)."""
    small, big = fillets_clips("m"), fillets_clips("v")
    italian = halves(sorted((ASTERISK / "it_IT_f_Menardi").glob("*.wav")))
    enrol = {"small": small[0], "big": big[0], "menardi": italian[0][:MENARDI_ENROL]}
    test = {"small": small[1], "big": big[1], "menardi": italian[1],
            "armelle": sorted((ASTERISK / "fr").glob("*.gsm")), "es-co": sorted((ASTERISK / "es").glob("*.gsm"))}
    for name in ("ve9qrp", "david4", "vk2tpm_004", "vk5qi"):  # long clips: cut into 6 s pieces
        test[f"codec2-{name}"] = [CODEC2 / f"{name}.wav"]
    return enrol, test


def episode_plans(test: dict[str, list[Path]], count: int, rng: random.Random) -> list[list[str]]:
    """Hosts with a guest, a host with a guest on the same kind of line, impostors alone, hosts alone."""
    impostors = [s for s in test if s not in ("small", "big", "menardi")]
    phone = ["armelle", "es-co"]  # 8 kHz prompts, as menardi's
    shapes = [lambda: ["small", "big", rng.choice(impostors)],
              lambda: ["menardi", rng.choice(phone)],
              lambda: rng.sample(impostors, 2),
              lambda: [rng.choice(["small", "big"]), rng.choice(impostors)],
              lambda: ["small", "big"],
              lambda: [rng.choice(impostors)]]
    return [shapes[i % len(shapes)]() for i in range(count)]


def pieces(path: Path) -> list[np.ndarray]:
    samples = decode(path).samples
    step = 6 * 16000
    return [samples[i: i + step] for i in range(0, len(samples), step) if len(samples) - i >= 16000]


def build_episode(plan: list[str], test: dict[str, list[Path]], rng: random.Random):
    """Samples and reference (speaker, start_s, end_s) of clips of the plan's speakers in turn."""
    queues = {s: rng.sample(test[s], len(test[s])) for s in plan}
    buffers: dict[str, list[np.ndarray]] = {s: [] for s in plan}
    out, reference, t, turn = [], [], 0.0, 0
    while t < EPISODE_S:
        speaker = plan[turn % len(plan)]
        turn += 1
        if not buffers[speaker]:
            if not queues[speaker]:
                break
            buffers[speaker] = pieces(queues[speaker].pop())
            if not buffers[speaker]:
                continue
        clip = buffers[speaker].pop(0)
        out += [clip, np.zeros(int(GAP_S * 16000), np.float32)]
        reference.append((speaker, t, t + len(clip) / 16000))
        t += len(clip) / 16000 + GAP_S
    return np.concatenate(out), reference


def majority(turns, reference) -> dict[str, str]:
    """Diarized label -> the reference speaker it overlaps most."""
    overlap: dict[str, dict[str, float]] = {}
    for turn in turns:
        for speaker, start, end in reference:
            shared = min(turn.end_s, end) - max(turn.start_s, start)
            if shared > 0:
                row = overlap.setdefault(turn.speaker, {})
                row[speaker] = row.get(speaker, 0.0) + shared
    return {label: max(row, key=row.get) for label, row in overlap.items()}


def enrolled_voices(enrol: dict[str, list[Path]]) -> dict[str, list]:
    voices, embedder = {}, None
    for name, paths in enrol.items():
        cached = CACHE / f"voice-{name}.json"
        if not cached.is_file():
            from pipeline.voices.enrol import VoiceEmbedder

            embedder = embedder or VoiceEmbedder()
            got = embedder.embed([decode(p).samples for p in paths], name)
            print(f"enrolled {name}: {got.speech_s:.0f} s of speech from {len(paths)} clips, "
                  f"{len(got.embeddings)} embeddings", flush=True)
            CACHE.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps([list(v) for v in got.embeddings]))
        voices[name] = json.loads(cached.read_text())
    return voices


def diarized_episodes(test, count: int, seed: int) -> list[dict]:
    from pipeline.diarization.diarize import DiarizeOptions, PyannoteDiarizer
    from pipeline.types import Audio

    rng = random.Random(seed)
    diarizer = None
    episodes = []
    for k, plan in enumerate(episode_plans(test, count, rng)):
        cached = CACHE / f"episode-{seed}-{k}.json"
        if cached.is_file() and json.loads(cached.read_text())["plan"] == plan:
            episodes.append(json.loads(cached.read_text()))
            continue
        samples, reference = build_episode(plan, test, rng)
        diarizer = diarizer or PyannoteDiarizer(DiarizeOptions(), "cpu")
        started = time.perf_counter()
        diar = diarizer.diarize(Audio(samples=samples, path=f"episode-{k}", sha256=""))
        who = majority(diar.exclusive, reference)
        episode = {"plan": plan, "duration_s": len(samples) / 16000, "speakers": [
            {"label": label, "truth": who.get(label), "centroid": list(vector)} for label, vector in diar.centroids]}
        print(f"episode {k}: {' + '.join(plan)}, {episode['duration_s']:.0f} s -> {len(diar.centroids)} speakers "
              f"({', '.join(str(who.get(label)) for label, _ in diar.centroids)}) "
              f"in {time.perf_counter() - started:.0f} s",
              flush=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(episode))
        episodes.append(episode)
    return episodes


def sweep(voices: dict[str, list], episodes: list[dict]) -> list[tuple]:
    rows = []
    for margin in MARGINS:
        for score in SCORES:
            options = MatchOptions(min_score=score, min_margin=margin)
            right = wrong = known = accepted = impostors = hosts = hosts_named = 0
            for ep in episodes:
                matches = name_speakers([(s["label"], s["centroid"]) for s in ep["speakers"]], voices, options)
                names = {matches[s["label"]].name: s["truth"] for s in ep["speakers"]}
                present = {v for v in ep["plan"] if v in voices}
                hosts += len(present)
                hosts_named += sum(names.get(v) == v for v in present)
                for s in ep["speakers"]:
                    name = matches[s["label"]].name
                    if s["truth"] is None:  # a cluster with no speech of its own
                        continue
                    if s["truth"] in voices:
                        known += 1
                        right += name == s["truth"]
                        wrong += name is not None and name != s["truth"]
                    else:
                        impostors += 1
                        accepted += name is not None
            rows.append((score, margin, right / max(known, 1), wrong / max(known, 1), accepted / max(impostors, 1),
                         known, impostors, hosts_named / max(hosts, 1), hosts))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    enrol, test = speakers()
    voices = enrolled_voices(enrol)
    episodes = diarized_episodes(test, args.episodes, args.seed)
    rows = sweep(voices, episodes)
    print(f"\n{len(episodes)} episodes; trials: {rows[0][5]} diarized speakers who are enrolled voices, "
          f"{rows[0][6]} impostors; {rows[0][8]} (episode, enrolled voice in it) pairs")
    print(f"{'min_score':>9} {'margin':>6} {'accuracy':>8} {'wrong':>6} {'false_acc':>9} {'voice_named':>11}")
    for score, margin, acc, wrong, far, _, _, named, _ in rows:
        print(f"{score:>9.2f} {margin:>6.2f} {acc:>8.1%} {wrong:>6.1%} {far:>9.1%} {named:>11.1%}")
    chosen = MatchOptions()
    for score, margin, acc, wrong, far, _, _, named, _ in rows:
        if (score, margin) == (chosen.min_score, chosen.min_margin):
            print(f"\ndefault (min_score {score}, min_margin {margin}): accuracy {acc:.1%}, wrong name {wrong:.1%}, "
                  f"false accept {far:.1%}, enrolled voice named in its episode {named:.1%}")
    print("scores of each diarized speaker (truth: best voice score, margin):")
    for ep in episodes:
        matches = name_speakers([(s["label"], s["centroid"]) for s in ep["speakers"]], voices, MatchOptions(0, 0))
        print("  " + "; ".join(f"{s['truth']}: {matches[s['label']].best} {matches[s['label']].score:.2f} "
                               f"{matches[s['label']].margin:+.2f}" for s in ep["speakers"]))


if __name__ == "__main__":
    main()
