#!/usr/bin/env bash
# The GPU device check (README.md next to this script). Two phases:
#
#   integration-tests/gpu/device-check.sh prepare
#       On a build machine (JDK 17 with jlink, Maven, this repository built offline). Needs DJL_JNI_SRC: DJL 0.36.0's
#       PyTorch JNI sources (engines/pytorch/pytorch-native of DJL's repository at tag v0.36.0, with the header
#       javac -h generates, include/ai_djl_pytorch_jni_PyTorchLibrary.h). Writes integration-tests/gpu/carry/
#       (git-ignored, about 25 MB): a jlink'd Java runtime, the jars the check runs on, the compiled DeviceCheck,
#       the JNI sources and headers. Carry that folder to the GPU machine with the checkout.
#
#   integration-tests/gpu/device-check.sh run
#       On the GPU machine (python3 with a CUDA torch, libnccl.so.2, no Java), from the repository root, in one go
#       of under 5 minutes: builds DJL's JNI against that torch, runs DeviceCheck (checks 1-5) through the
#       environment rendezvous without Spark, then the PyTorch eager baseline of check 4, and prints the ratio.
#       Exit status 0 only when every check passed. With $OUT set, the logs are copied there.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CARRY="$HERE/carry"
TINY="$ROOT/training-ddp/src/test/resources/hf-tiny"

prepare() {
  : "${DJL_JNI_SRC:?set DJL_JNI_SRC to the pytorch-native JNI sources of DJL 0.36.0 (src/, include/)}"
  [ -f "$DJL_JNI_SRC/include/ai_djl_pytorch_jni_PyTorchLibrary.h" ] \
    || { echo "DJL_JNI_SRC=$DJL_JNI_SRC lacks include/ai_djl_pytorch_jni_PyTorchLibrary.h" >&2; exit 2; }
  rm -rf "$CARRY"
  mkdir -p "$CARRY/lib" "$CARRY/classes" "$CARRY/jni-include"
  cd "$ROOT"
  mvn -o -B -ntp -q -pl training-ddp -am compile dependency:build-classpath -Dmdep.includeScope=runtime \
    -Dmdep.outputFile="$CARRY/maven-classpath.txt"
  for m in config-def accelerate-spark datasets-arrow training-ddp; do
    jar --create --file "$CARRY/lib/sparkformers-$m.jar" -C "$m/target/classes" .
  done
  # The third-party jars the check loads (found by running it on the CPU with nothing else): DJL's API and PyTorch
  # engine, JNA, gson, slf4j, jackson. Not DJL's pytorch-jni/pytorch-native-cpu: on the GPU machine the JNI is
  # built against its own torch, and DJL must not pick the CPU one from a jar.
  tr ':' '\n' < "$CARRY/maven-classpath.txt" | grep -E '/ai/djl/api/|/ai/djl/pytorch/pytorch-engine/|/net/java/dev/jna/jna/|/com/google/code/gson/gson/|/org/slf4j/slf4j-api/|/com/fasterxml/jackson/core/jackson-(core|databind|annotations)/' \
    | while read -r j; do cp "$j" "$CARRY/lib/"; done
  rm "$CARRY/maven-classpath.txt"
  javac -d "$CARRY/classes" -cp "$CARRY/lib/*" "$ROOT/integration-tests/src/test/java/io/sparkformers/it/gpu/DeviceCheck.java"
  local modules
  modules=$(cd "$CARRY" && jdeps --multi-release 17 --ignore-missing-deps --print-module-deps classes lib/*.jar \
    2>/dev/null | tail -1)
  modules="$modules,java.base,java.logging,jdk.unsupported,java.management,jdk.zipfs"
  echo "jlink modules: $modules"
  jlink --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --compress=2 --output "$CARRY/jre"
  (cd "$CARRY" && tar -cJf jre.tar.xz jre && rm -rf jre)
  local jdk
  jdk="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
  cp "$jdk/include/jni.h" "$jdk/include/linux/jni_md.h" "$CARRY/jni-include/"
  cp -r "$DJL_JNI_SRC" "$CARRY/djl-pytorch-native"
  du -sh "$CARRY"
  echo "prepared: carry integration-tests/gpu/carry with the checkout, then run: integration-tests/gpu/device-check.sh run"
}

run() {
  local work torch tver cuda flavor torchlib rc=0
  [ -f "$CARRY/jre.tar.xz" ] || { echo "$CARRY/jre.tar.xz is missing: run 'device-check.sh prepare' first" >&2; exit 2; }
  work="${TMPDIR:-/tmp}/sparkformers-device-check"
  rm -rf "$work"
  mkdir -p "$work/build/obj" "$work/out"
  tar -xJf "$CARRY/jre.tar.xz" -C "$work"
  torch=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')
  tver=$(python3 -c 'import torch;print(torch.__version__.split("+")[0])')
  cuda=$(python3 -c 'import torch;print(torch.version.cuda or "")')
  [ -n "$cuda" ] || { echo "python3's torch has no CUDA" >&2; exit 2; }
  flavor="cu${cuda//./}"
  echo "torch $tver ($flavor) at $torch; $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo 'nvidia-smi missing')"

  # DJL 0.36.0's JNI, compiled against this torch (its own is for libtorch 2.7.1), all files in parallel.
  local abi site inc="" d t0
  t0=$(date +%s)
  abi=$(python3 -c 'import torch;print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
  site=$(dirname "$torch")
  for d in /usr/local/cuda/include "$site"/nvidia/cuda_runtime/include "$site"/nvidia/cu13/include; do
    [ -d "$d" ] && inc="$inc -I$d"
  done
  local src="$CARRY/djl-pytorch-native"
  ls "$src"/src/*.cc | xargs -P "$(nproc)" -I{} sh -c 'g++ -c -O2 -fPIC -std=c++17 -w -D_GLIBCXX_USE_CXX11_ABI='"$abi"' -DUSE_CUDA -I'"$CARRY"'/jni-include -I'"$src"'/include -I'"$src"'/src -I'"$torch"'/include -I'"$torch"'/include/torch/csrc/api/include '"$inc"' {} -o '"$work"'/build/obj/$(basename {} .cc).o 2>'"$work"'/build/obj/$(basename {} .cc).err || { echo "FAILED {}"; head -20 '"$work"'/build/obj/$(basename {} .cc).err; }'
  g++ -shared -o "$work/build/libdjl_torch.so" "$work"/build/obj/*.o -L"$torch/lib" -ltorch -ltorch_cpu -ltorch_cuda \
    -lc10 -lc10_cuda -Wl,-rpath,"$torch/lib"
  echo "DJL JNI built in $(( $(date +%s) - t0 )) s"
  # DJL looks for "<djl version>-libdjl_torch.so" in PYTORCH_LIBRARY_PATH first: put it next to torch's libraries,
  # or, where that folder is read-only, in a folder of links to them.
  torchlib="$torch/lib"
  if ! cp "$work/build/libdjl_torch.so" "$torchlib/0.36.0-libdjl_torch.so" 2>/dev/null; then
    torchlib="$work/torchlib"
    mkdir -p "$torchlib"
    ln -s "$torch"/lib/* "$torchlib/"
    cp "$work/build/libdjl_torch.so" "$torchlib/0.36.0-libdjl_torch.so"
  fi

  export PYTORCH_LIBRARY_PATH="$torchlib" PYTORCH_VERSION="$tver" PYTORCH_FLAVOR="$flavor"
  export DJL_CACHE_DIR="$work/djl-cache" MASTER_ADDR=127.0.0.1 MASTER_PORT=29511 RANK=0 WORLD_SIZE=1 LOCAL_RANK=0
  # Threads for the CPU reference run; libgomp spinning briefly between operators.
  export GOMP_SPINCOUNT=10000
  timeout 240 "$work/jre/bin/java" -Xss4m -Dai.djl.offline=true -Dai.djl.default_engine=PyTorch \
    --add-opens=java.base/java.nio=ALL-UNNAMED -cp "$CARRY/lib/*:$CARRY/classes" io.sparkformers.it.gpu.DeviceCheck \
    "$TINY/llama" "$TINY/lora/results.json" "$work/out" "$@" 2>&1 | tee "$work/java.log" || rc=$?

  local java_tps pt_tps b t
  java_tps=$(sed -n 's/^JAVA_TOKENS_PER_SECOND \([0-9]*\) B=\([0-9]*\) T=\([0-9]*\)$/\1 \2 \3/p' "$work/java.log" | tail -1)
  if [ -n "$java_tps" ]; then
    read -r java_tps b t <<< "$java_tps"
    timeout 150 python3 "$HERE/llama_train_bench.py" --batch "$b" --seq "$t" --steps 4 --warmup 2 2>&1 \
      | tee "$work/pytorch.log" || true
    pt_tps=$(sed -n 's/^PYTORCH_TOKENS_PER_SECOND \([0-9]*\).*/\1/p' "$work/pytorch.log" | tail -1)
    if [ -n "$pt_tps" ]; then
      python3 -c "import sys;j,p=float(sys.argv[1]),float(sys.argv[2]);print('CHECK 4 RATIO sparkformers %.0f / PyTorch eager %.0f tokens/s = %.2f (goal >= 0.80)' % (j,p,j/p))" "$java_tps" "$pt_tps" \
        | tee -a "$work/java.log"
    else
      echo "CHECK 4 RATIO unavailable: the PyTorch baseline did not finish (see pytorch.log)" | tee -a "$work/java.log"
    fi
  fi
  if [ -n "${OUT:-}" ]; then
    cp "$work"/*.log "$OUT/" 2>/dev/null || true
    cp "$work/out/device-check.txt" "$OUT/" 2>/dev/null || true
  fi
  grep -E '^(CHECK|DEVICE CHECK)' "$work/java.log" || true
  exit "$rc"
}

case "${1:-}" in
  prepare) shift; prepare "$@" ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 prepare | run [--no-throughput | --throughput-only] [--batch N --seq N --layers N --steps N]" >&2
     exit 2 ;;
esac
