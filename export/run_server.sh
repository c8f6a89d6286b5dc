#!/usr/bin/env sh
# Serve export/models/stylefusion/<version> with TF Serving (REST :8501, gRPC :8500).
# Usage: export/run_server.sh   (from the repository root, after `stylefusion export ... --saved-model export/models/stylefusion/1`)
set -eu
KIT="$(cd "$(dirname "$0")" && pwd)"
exec docker run --rm -p 8500:8500 -p 8501:8501 \
  -v "$KIT/models:/models" \
  -v "$KIT/models.config:/config/models.config:ro" \
  -v "$KIT/batching_parameters.txt:/config/batching_parameters.txt:ro" \
  tensorflow/serving:latest \
  --model_config_file=/config/models.config \
  --enable_batching=true \
  --batching_parameters_file=/config/batching_parameters.txt
