#!/bin/bash
# The README's screenshot: the real app (stemforge gui, the shipped model) after a real
# separation of the demo track, at the default window size 1280 x 820, grabbed from an X
# server. Needs Xvfb, xdotool and ImageMagick's import (apt-get install xvfb xdotool imagemagick).
#   bash resources/screenshots/regenerate-main-window.sh [OUT.png]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/resources/screenshots/main-window.png}
work=$(mktemp -d /tmp/producer.XXXX)
display=:$((100 + RANDOM % 800))
# a fresh user: default settings, stems under $work/Music/Stemforge, no installed models
export HOME=$work XDG_CONFIG_HOME=$work/.config XDG_DATA_HOME=$work/.local/share DISPLAY=$display
Xvfb "$display" -screen 0 1400x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $gui $xvfb 2>/dev/null || true; rm -rf "$work"' EXIT
gui=
sleep 2
stemforge gui "$repo/resources/demo/demo.ogg" >"$work/gui.log" 2>&1 &
gui=$!
window=
for _ in $(seq 60); do
  window=$(xdotool search --name '^Stemforge$' 2>/dev/null | head -1 || true)
  [ -n "$window" ] && break
  sleep 1
done
[ -n "$window" ] || { echo "the window did not open" >&2; cat "$work/gui.log" >&2; exit 1; }
sleep 3
xdotool windowsize "$window" 1280 820
sleep 2
xdotool mousemove 1214 776 click 1  # Start (bottom right of the window at its default size)
recipe=$HOME/Music/Stemforge/demo/stemforge.json
for _ in $(seq 300); do [ -f "$recipe" ] && break; sleep 1; done
[ -f "$recipe" ] || { echo "the separation did not finish" >&2; cat "$work/gui.log" >&2; exit 1; }
sleep 6  # the lanes load the stems' envelopes
xdotool mousemove 700 700
sleep 1
import -window "$window" "$out"
echo "saved $out"
