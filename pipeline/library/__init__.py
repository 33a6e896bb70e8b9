"""A show's library: feeds, downloads, the catalog of episodes and the batch runner.

``feed`` parses a podcast feed into typed episodes, ``download`` fetches an enclosure safely (http and https
only, streamed, resumable, capped), ``catalog`` records every episode and its status in
``OUTPUT_DIR/catalog.sqlite``, ``batch`` turns inputs into jobs and runs each one (``run_episode``), and
``cli`` holds the ``feed`` and ``status`` commands.
"""
