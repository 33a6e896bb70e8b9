"""Run the stages on one episode: decode -> chunk -> transcribe -> diarize -> merge.

:class:`Transcriber` is the one owner of loaded models. It receives how to make them (an ASR engine
factory and a diarizer factory: the real adapters by default, fakes in the tests of orchestration), loads
each when first needed and, unless ``keep_loaded``, frees one before loading the other, so Whisper is not
resident while pyannote runs.
"""
from __future__ import annotations

import gc
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

from pipeline.asr import AsrEngine, load_engine
from pipeline.asr.options import CONTEXT_WORDS, TranscribeOptions, english_only
from pipeline.cache import EpisodeCache, key_digest
from pipeline.chunk import ChunkOptions, envelope_db, plan_chunks, threshold_for
from pipeline.coverage import (
    RETRY_INDEX,
    SECOND_ROUND,
    CoverageOptions,
    gaps,
    guard,
    merge_spans,
    misplaced,
    recovered,
    retry_plan,
    uncovered,
    untried,
    without,
)
from pipeline.decode import decode
from pipeline.device import resolve_device
from pipeline.diarization import Diarizer
from pipeline.diarization.diarize import DiarizeOptions
from pipeline.errors import PodscribeError
from pipeline.merge import MergeOptions, merge, relabel_turns, unused_names
from pipeline.seam import join, snap_to_sound
from pipeline.transcribe import language_code, transcribe
from pipeline.types import Audio, Chunk, Diarization, Segment, Transcript, Word
from pipeline.vocabulary import beside, unique
from pipeline.voices.match import MatchOptions, name_speakers, record
from pipeline.voices.store import Voice

log = logging.getLogger(__name__)

# An English-only model that marks this share of an episode's words, or more, was most likely given another
# language (how the threshold was chosen: docs/coverage.md, "Not English")
FOREIGN_MARKED = 0.5
FOREIGN_MIN_WORDS = 20

StageProgress = Optional[Callable[[str, int, int], None]]
AsrFactory = Callable[[TranscribeOptions, str], AsrEngine]
DiarizerFactory = Callable[[DiarizeOptions, str], Diarizer]


@dataclass(frozen=True)
class RunOptions:
    chunk: ChunkOptions = field(default_factory=ChunkOptions)
    transcribe: TranscribeOptions = field(default_factory=TranscribeOptions)
    diarize: DiarizeOptions = field(default_factory=DiarizeOptions)
    merge: MergeOptions = field(default_factory=MergeOptions)
    coverage: CoverageOptions = field(default_factory=CoverageOptions)
    diarization: bool = True
    voices: tuple[Voice, ...] = ()  # enrolled voices that name the speakers they match (pipeline.voices)
    match: MatchOptions = field(default_factory=MatchOptions)

    def __post_init__(self) -> None:
        speakers = (self.diarize.num_speakers, self.diarize.min_speakers, self.diarize.max_speakers)
        if not self.diarization and any(n is not None for n in speakers):
            raise PodscribeError("a number of speakers needs diarization: drop --no-diarize")

    def identity(self) -> dict:
        """What makes two runs the same run: every option that changes the transcript, ``auto`` resolved (the
        previous-text context as the words it carries), the model file by path, size and time, and the enrolled
        voices by a digest. The one definition the catalog (is an episode done with these options?), the resume
        cache (are these chunks and this diarization reusable?) and the transcript's record read. The batch size
        changes no word and is left out; the device as asked (the cache adds the one used)."""
        transcribe = self.transcribe
        return {
            "chunk": asdict(self.chunk),
            "transcribe": {k: v for k, v in asdict(transcribe).items() if k != "batch_size"} | {
                "model": transcribe.model_identity, "context": CONTEXT_WORDS if transcribe.with_context else 0},
            "diarize": asdict(self.diarize),
            "merge": asdict(self.merge),
            "coverage": asdict(self.coverage),
            "diarization": self.diarization,
            "voices": voices_digest(self.voices),
            "match": asdict(self.match),
        }


def pyannote_diarizer(options: DiarizeOptions, device: str) -> Diarizer:
    from pipeline.diarization.diarize import PyannoteDiarizer

    return PyannoteDiarizer(options, device)


class Transcriber:
    """Transcribes episodes with one set of options; ``run`` does one file."""

    def __init__(self, options: RunOptions = RunOptions(), asr: Optional[AsrFactory] = None,
                 diarizer: Optional[DiarizerFactory] = None, keep_loaded: bool = False):
        self.options = options
        self.keep_loaded = keep_loaded
        self.asr_device = resolve_device(options.transcribe.device)
        self.diarize_device = resolve_device(options.diarize.device)
        self._factories = {"asr": (asr or load_engine, options.transcribe, self.asr_device),
                           "diarizer": (diarizer or pyannote_diarizer, options.diarize, self.diarize_device)}
        self._loaded: dict[str, object] = {}

    def run(self, path: str | Path, progress: StageProgress = None, cache_dir: Optional[str | Path] = None,
            vocabulary: tuple[str, ...] = (), language: Optional[str] = None) -> Transcript:
        """Transcribe one file; with ``cache_dir``, finished chunks and the diarization are saved there
        as they are made and taken from there on a later run (see ``pipeline.cache``). ``vocabulary`` adds
        terms for this episode to the options' (as does an ``EPISODE.vocab.txt`` beside the file); ``language``,
        the one its feed declares, is used unless the options give one."""
        timings: dict[str, float] = {}
        audio = _timed(timings, "decode", lambda: decode(path))
        _tick(progress, "decode", 1, 1)
        terms = unique(self.options.transcribe.vocabulary + tuple(vocabulary) + beside(path))
        asr_options = replace(self.options.transcribe, vocabulary=terms,
                              language=self.options.transcribe.language or language)
        episode_options = replace(self.options, transcribe=asr_options,
                                  merge=replace(self.options.merge, vocabulary=terms))
        identity = episode_options.identity()
        cache = self._cache(cache_dir, audio.sha256, identity) if cache_dir is not None else None
        diar = _timed(timings, "diarize", lambda: self._cached_diarize(audio, cache, progress))
        env = envelope_db(audio.samples, audio.sample_rate, self.options.chunk.frame_s)
        chunks = _timed(timings, "chunk", lambda: plan_chunks(env, self.options.chunk, diar.speech))
        language, per_chunk = _timed(timings, "transcribe",
                                     lambda: self._transcribe(audio, chunks, asr_options, cache, progress))
        loud = env >= threshold_for(env, self.options.chunk)
        guarded = [guard(segs, diar.speech, asr_options.no_speech_threshold, self.options.coverage,
                         self.options.merge.crammed_below_s) for segs in per_chunk]
        segments = snap_to_sound(join(chunks, guarded), loud, self.options.chunk.frame_s)
        segments = _timed(timings, "coverage", lambda: self._cover(audio, diar.speech, segments, language,
                                                                  asr_options, cache))
        merge_options = episode_options.merge
        enrolled = {v.name: v.embeddings for v in self.options.voices}
        matches = name_speakers(diar.centroids, enrolled, self.options.match)
        known = {} if self.options.merge.speaker_names else {raw: m.name for raw, m in matches.items() if m.name}
        turns, labels = _timed(timings, "merge", lambda: merge(segments, diar.exclusive, merge_options, known))
        _say_unmatched_names(Path(path).name, merge_options.speaker_names, labels)
        _say_if_not_english(Path(path).name, [w for t in turns for w in t.words], asr_options)
        return Transcript(
            episode=Path(path).stem, sha256=audio.sha256, duration_s=audio.duration_s, language=language,
            turns=turns, segments=tuple(s for s in segments if not s.words[0].gap),
            speaker_turns=relabel_turns(diar.turns, labels, known), models=self._models(),
            options=identity,
            timings_s={k: round(v, 3) for k, v in timings.items()}, source=str(path), speech=diar.speech,
            voices=record(matches, labels, self.options.match) if self.options.voices else {},
        )

    def _cover(self, audio: Audio, speech, segments: list[Segment], language: str, options: TranscribeOptions,
               cache: Optional[EpisodeCache]) -> list[Segment]:
        """Speech with no words decoded again on its own; what stays empty becomes a gap. In time order.
        Words a retry found again elsewhere were misplaced: they are dropped and their time decoded again too."""
        coverage = self.options.coverage
        stretches = uncovered(speech, [w for s in segments for w in s.words], coverage)
        if not stretches:
            return segments
        found = self._retry(audio, stretches, language, options, cache, RETRY_INDEX)
        wrong = misplaced(segments, found)
        if wrong:
            log.warning("%s: %d word(s) found again elsewhere by the retries, decoding their time again: %s",
                        Path(audio.path).name, len(wrong),
                        " ".join(w.text for w in sorted(wrong, key=lambda w: w.start_s)))
            segments = without(segments, wrong)
            again = untried(uncovered(speech, [w for s in segments + found for w in s.words], coverage), stretches)
            found += self._retry(audio, again, language, options, cache, SECOND_ROUND)
            stretches = merge_spans(list(stretches) + again)
        words = [w for s in segments + found for w in s.words]
        holes = [Segment(text="", start_s=g.start_s, end_s=g.end_s, words=(g,), chunk_index=-1)
                 for g in gaps(stretches, words, coverage)]
        if holes:
            log.warning("%s: %.1f s of speech left without words, marked [?]", Path(audio.path).name,
                        sum(h.end_s - h.start_s for h in holes))
        return sorted(segments + found + holes, key=lambda s: (s.start_s, s.end_s))

    def _retry(self, audio: Audio, stretches, language: str, options: TranscribeOptions,
               cache: Optional[EpisodeCache], first_index: int) -> list[Segment]:
        """The words found by decoding each stretch again with some context (cached like the plan's chunks)."""
        if not stretches:
            return []
        log.info("%s: %d stretch(es) of speech without words, %.1f s: decoding them again",
                 Path(audio.path).name, len(stretches), sum(e - s for s, e in stretches))
        coverage = self.options.coverage
        plan = retry_plan(stretches, audio.duration_s, coverage, first_index=first_index)
        retries = [chunk for chunk, _ in plan]
        done = cache.chunks(retries) if cache else {}
        if len(done) < len(retries):
            # no previous-text context: a retry's neighbours in the plan are not its neighbours in time, and a
            # prompt is what can make whisper skip a stretch in the first place
            results = transcribe(self._model("asr"), audio, retries, replace(options, context=False), language,
                                 done=done, on_chunk=cache.save_chunk if cache else None)
            done = {c.index: segs for c, segs in zip(retries, results)}
        return [seg for c, piece in plan for seg in recovered(c, done[c.index], [piece], coverage)]

    def close(self) -> None:
        """Free every loaded model."""
        for kind in list(self._loaded):
            self._release(kind)

    def _model(self, kind: str):
        """The loaded ASR engine or diarizer, loaded now if needed (freeing the other first)."""
        if kind not in self._loaded:
            if not self.keep_loaded:
                self.close()
            factory, options, device = self._factories[kind]
            self._loaded[kind] = factory(options, device)
        return self._loaded[kind]

    def _release(self, kind: str) -> None:
        model = self._loaded.pop(kind, None)
        if model is not None:
            model.close()
            gc.collect()

    def _transcribe(self, audio: Audio, chunks: list[Chunk], options: TranscribeOptions,
                    cache: Optional[EpisodeCache], progress: StageProgress) -> tuple[str, list[list[Segment]]]:
        """The engine on the chunks not in the cache (no model is loaded when every chunk is there)."""
        done = cache.chunks(chunks) if cache else {}
        language = (cache.language() if cache else None) or _fixed_language(chunks, options)
        if language and all(c.index in done for c in chunks):
            _tick(progress, "transcribe", len(chunks), len(chunks))
            return language, [done[c.index] for c in chunks]
        engine = self._model("asr")
        if language is None:
            language = engine.detect_language(audio, chunks)
            if cache:
                cache.save_language(language)
        if done:
            log.info("%s: %d of %d chunks taken from the cache", Path(audio.path).name, len(done), len(chunks))
        return language, transcribe(engine, audio, chunks, options, language, done=done,
                                    on_chunk=cache.save_chunk if cache else None,
                                    progress=lambda n, total: _tick(progress, "transcribe", n, total))

    def _cached_diarize(self, audio: Audio, cache: Optional[EpisodeCache], progress: StageProgress) -> Diarization:
        saved = cache.diarization() if cache else None
        if saved is not None:
            _tick(progress, "diarize", 1, 1)
            return saved
        result = self._diarize(audio, progress)
        if cache:
            cache.save_diarization(result)
        return result

    def _diarize(self, audio: Audio, progress: StageProgress) -> Diarization:
        if audio.duration_s < 0.5:
            return Diarization(turns=(), exclusive=())
        diarizer = self._model("diarizer")
        if not self.options.diarization:
            result = diarizer.speech_activity(audio)
            _tick(progress, "diarize", 1, 1)
            return result
        result = diarizer.diarize(audio, progress=lambda n, total: _tick(progress, "diarize", n, total))
        _tick(progress, "diarize", 1, 1)
        return result

    def _cache(self, cache_dir: str | Path, sha256: str, identity: dict) -> EpisodeCache:
        """The episode's resume cache: the words keyed by what changes them (the transcribe and chunk options, the
        device and precision they ran at), the diarization by its own options and device."""
        whisper_key = {"sha256": sha256, "chunk": identity["chunk"], "device": self.asr_device,
                       "transcribe": identity["transcribe"] | {"device": None, "compute_type": self._precision()}}
        diarize_key = {"sha256": sha256, "device": self.diarize_device, "enabled": identity["diarization"],
                       "diarize": identity["diarize"] | {"device": None}}
        return EpisodeCache(cache_dir, sha256, whisper_key, diarize_key)

    def _precision(self) -> str:
        """What the CTranslate2 engine runs at here (``auto`` resolved); the option as given for openai-whisper."""
        opts = self.options.transcribe
        if opts.engine != "ctranslate2":
            return opts.compute_type
        from pipeline.asr.faster_whisper import precision_name

        return precision_name(opts.compute_type, self.asr_device)

    def _models(self) -> dict[str, str]:
        opts = self.options.transcribe
        models = {"whisper": opts.model, "engine": opts.engine, "device": self.asr_device}
        if opts.engine == "ctranslate2":
            models["compute_type"] = self._precision()
        if self.options.diarization:
            models |= {"segmentation": "pyannote/segmentation-3.0", "embedding": "CAM++ (3D-Speaker, 192-d)"}
        return models


def _timed(timings: dict[str, float], stage: str, fn):
    start = time.perf_counter()
    try:
        return fn()
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


def _fixed_language(chunks: list[Chunk], options: TranscribeOptions) -> Optional[str]:
    """The language when no model is needed to know it: given (or declared by the feed), an English-only model, or
    no speech."""
    if options.language:
        return language_code(options.language)
    if not chunks or english_only(options.model):
        return "en"
    return None


def _tick(progress: StageProgress, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def _say_unmatched_names(name: str, names: Sequence[str], labels: dict[str, str]) -> None:
    """A warning when --speakers gave more or fewer names than speakers were heard."""
    if not names or len(names) == len(labels):
        return
    unused = unused_names(names, labels)
    heard = f"{len(labels)} speaker{'' if len(labels) == 1 else 's'} heard"
    if unused:
        log.warning("%s: %s, %d names given: %s not used", name, heard, len(names), ", ".join(unused))
    else:
        log.warning("%s: %s, %d names given: the others are numbered SPEAKER n", name, heard, len(names))


def _say_if_not_english(name: str, words: Sequence[Word], options: TranscribeOptions) -> None:
    """A warning when an English-only model, with no language given, marked most of what it heard: the sign of an
    episode in another language forced into English (docs/coverage.md, "Not English")."""
    if not english_only(options.model) or options.language is not None:
        return
    spoken = [w for w in words if not w.gap]
    share = sum(w.uncertain for w in spoken) / len(spoken) if spoken else 0.0
    if len(spoken) >= FOREIGN_MIN_WORDS and share >= FOREIGN_MARKED:
        log.warning("%s: %.0f%% of the words are marked [?]: if it is not in English, %s cannot transcribe it; use "
                    "a multilingual model such as base", name, 100 * share, options.model)


def voices_digest(voices: Sequence[Voice]) -> Optional[str]:
    """The enrolled voices as a short digest of their names and embeddings (None when there are none)."""
    if not voices:
        return None
    return key_digest({"voices": [(v.name, v.embeddings) for v in sorted(voices, key=lambda v: v.name)]})
