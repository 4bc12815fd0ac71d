"""The `hotline` command."""

import os

# Set before numpy loads: the service runs many small matrix products (matcher, recognisers) from several threads
# at once; a BLAS thread pool per product measured 40-140 ms a match against 2-4 ms single-threaded.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
