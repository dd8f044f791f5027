#!/bin/sh
# Creates the example layers (the three Conv2DTranspose layers of TensorFlow's DCGAN tutorial
# generator) on a running tconv-server, which writes them into its model repository; from then
# on the server loads them at every start. Layers that already exist are left alone.
#
#   populate.sh [SERVER] [TCONV]     SERVER defaults to 127.0.0.1:8001, TCONV to `tconv` on PATH
#
# Weights are drawn by the server from each config's kernel_initializer, whose explicit seed
# makes them the same on every machine (the config file alone determines the layer).
set -eu
server=${1:-127.0.0.1:8001}
tconv=${2:-tconv}
here=$(cd "$(dirname "$0")" && pwd)

# name input_channels (the layer before each one in the generator produces these)
for layer in "dcgan_g1 256" "dcgan_g2 128" "dcgan_g3 64"; do
  set -- $layer
  if "$tconv" get --server "$server" --name "$1" >/dev/null 2>&1; then
    echo "$1: already served"
  else
    "$tconv" create --server "$server" --name "$1" --config "$here/$1.json" --input_channels "$2"
  fi
done
