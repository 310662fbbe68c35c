//! Crawl: read relay websockets (backfill, then live), hand raw events to the pipeline.
