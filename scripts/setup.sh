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

# llama-cpp-python compiles llama.cpp for the CPU that builds it unless told otherwise, and the kernels it
# compiles decide the model's arithmetic: greedy answers differ in places between CPUs with other features
# (seen here: reader.yaml verdicts differed between two sessions' machines). Where the CPU has AVX2, FMA, F16C
# and BMI2 (x86-64-v3), llama.cpp is therefore built for exactly that level (GGML_NATIVE=OFF: ggml then enables
# SSE4.2/AVX/AVX2/BMI2/FMA/F16C and leaves AVX-512, VNNI and AMX off), so every such machine computes the
# same answers and one wheel serves them all. Any other CPU gets a native build keyed by its feature flags.
# Wheels are never taken from pip's shared cache (--no-cache-dir): one reused on the wrong CPU dies with
# "illegal instruction". The venv records which build it holds, so changing this rebuilds it.
flags=$(grep -m1 -E '^(flags|Features)' /proc/cpuinfo || uname -m)
has() { [[ " $flags " == *" $1 "* ]]; }
if [ "$(uname -m)" = x86_64 ] && has avx2 && has fma && has f16c && has bmi2; then
    build_key="x86-64-v3"
    cmake_cpu="-DGGML_NATIVE=OFF"
else
    # AMX is left out: virtual machines that advertise it without enabling it for user space crash in a native
    # build (seen here: a general protection fault at ldtilecfg in libggml-cpu.so on the first eval).
    cflags=""
    has amx_tile && cflags="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    build_key="native-$(echo "$flags $cflags" | sha256sum | cut -c1-16)"
    cmake_cpu="-DGGML_NATIVE=ON -DCMAKE_C_FLAGS='$cflags' -DCMAKE_CXX_FLAGS='$cflags'"
fi
build_key="$LLAMA_VERSION-$(uname -m)-$build_key"
if ! .venv/bin/python -c "import llama_cpp" 2>/dev/null || [ "$(cat .venv/llama-cpp-build 2>/dev/null)" != "$build_key" ]; then
    wheel_dir="${ASSISTANT_WHEEL_CACHE:-$HOME/.cache/assistant/wheels}/llama-cpp-python-$build_key"
    if ! ls "$wheel_dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
        echo "Building llama-cpp-python $LLAMA_VERSION ($build_key; about 5-10 minutes on 2 cores)..."
        mkdir -p "$wheel_dir"
        CMAKE_ARGS="$cmake_cpu -DLLAMA_CURL=OFF" "$PIP" wheel --no-deps --no-cache-dir \
            "llama-cpp-python==$LLAMA_VERSION" -w "$wheel_dir"
    fi
    "$PIP" install -q --no-deps --force-reinstall "$wheel_dir"/llama_cpp_python-*.whl
    echo "$build_key" > .venv/llama-cpp-build
fi

# torch==2.13.0 is the CPU build on this machine's disk; the constraints file pins everything else.
"$PIP" install -q -c scripts/requirements.lock "torch==2.13.0" -e ".[test]"
.venv/bin/python -c "import llama_cpp, torch, chromadb, gradio, langchain_chroma" # fail loudly if the install broke

# Join and verify the model once (cached), and build the index if the sources changed.
.venv/bin/assistant index
.venv/bin/python -c "from assistant.config import Settings; from assistant.llm import ensure_model; print('Model:', ensure_model(Settings.from_env()))"
