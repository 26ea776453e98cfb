"""Beam entry point of the ``slice`` step (the same as ``streampro slice``).

Locally (DirectRunner)::

    python beam/slice_videos.py --manifest data/synth/manifest.jsonl --out data/sliced

On Dataflow, with the project's CPU image as the SDK container (see README)::

    python beam/slice_videos.py --manifest gs://B/world/manifest.jsonl --out gs://B/sliced \\
        --runner DataflowRunner --project P --region R --temp_location gs://B/tmp \\
        --sdk_container_image REGION-docker.pkg.dev/P/streampro/cpu:TAG --sdk_location container

Every flag that is not the step's own is handed to Beam's PipelineOptions unchanged.
"""
import sys

from streampro.cli import main

if __name__ == "__main__":
    sys.exit(main(["slice", *sys.argv[1:]]))
