"""podscribe: speaker-tagged podcast transcripts with uncertain spans marked [?]."""
import os as _os

# pyannote.audio 4 sends telemetry unless told not to; this must hold before it is imported.
_os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")

__version__ = "0.1.0"
