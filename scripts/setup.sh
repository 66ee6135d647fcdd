#!/usr/bin/env bash
# Set up everything on a fresh machine: a virtual environment, llama-cpp-python built for this CPU,
# the pinned dependencies, the joined model and the index. Safe to run again: it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
LLAMA_VERSION=0.3.36
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# llama-cpp-python compiles llama.cpp for the CPU that builds it. A wheel reused on another CPU can die with
# "illegal instruction", so the wheel is cached under a key made from this CPU's feature flags and never taken
# from pip's shared wheel cache (--no-cache-dir).
# AMX is left out: on virtual machines that advertise it without enabling it for user space (seen here: a
# general protection fault at ldtilecfg in libggml-cpu.so on the first eval), a native build crashes.
NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
if ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
    cpu_key=$( (grep -m1 -E '^(flags|Features)' /proc/cpuinfo || uname -m; echo "$NO_AMX") | sha256sum | cut -c1-16)
    wheel_dir="${ASSISTANT_WHEEL_CACHE:-$HOME/.cache/assistant/wheels}/llama-cpp-python-$LLAMA_VERSION-$(uname -m)-$cpu_key"
    if ! ls "$wheel_dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
        echo "Building llama-cpp-python $LLAMA_VERSION for this CPU (about 5-10 minutes on 2 cores)..."
        mkdir -p "$wheel_dir"
        cflags=""
        grep -qw amx_tile /proc/cpuinfo && cflags="$NO_AMX"
        CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DCMAKE_C_FLAGS='$cflags' -DCMAKE_CXX_FLAGS='$cflags'" "$PIP" wheel --no-deps --no-cache-dir \
            "llama-cpp-python==$LLAMA_VERSION" -w "$wheel_dir"
    fi
    "$PIP" install -q --no-deps --force-reinstall "$wheel_dir"/llama_cpp_python-*.whl
fi

# torch==2.13.0 is the CPU build on this machine's disk; the constraints file pins everything else.
"$PIP" install -q -c scripts/requirements.lock "torch==2.13.0" -e ".[test]"
.venv/bin/python -c "import llama_cpp, torch, chromadb, gradio, langchain_chroma" # fail loudly if the install broke

# Join and verify the model once (cached), and build the index if the sources changed.
.venv/bin/assistant index
.venv/bin/python -c "from assistant.config import Settings; from assistant.llm import ensure_model; print('Model:', ensure_model(Settings.from_env()))"
