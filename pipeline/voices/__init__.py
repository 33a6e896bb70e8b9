"""Speakers named by voice: enrolled voices (``store``), embedding clips (``enrol``), and matching the
diarized speakers' CAM++ centroids against the voices (``match``, pure). ``cli`` is the ``voices`` command."""
