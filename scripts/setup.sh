#!/bin/sh
# Installs what the build needs and Go modules cannot bring: a C compiler for cgo (SQLite) and
# OpenCV 4 with its contrib modules and pkg-config (fingerprint image extraction, gocv.io/x/gocv
# v0.31.0, which builds against Debian 12's OpenCV 4.6), and chromium with CJK fonts (the lane
# display and its browser tests).
# Runs as root on Debian; does nothing when everything is present.
set -eu
need=""
command -v gcc >/dev/null 2>&1 || need="$need gcc libc6-dev"
command -v g++ >/dev/null 2>&1 || need="$need g++"
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
# gocv links the contrib modules too (ximgproc, ...): check both packages, not just opencv4.pc.
if ! pkg-config --exists opencv4 2>/dev/null ||
	! dpkg -s libopencv-contrib-dev >/dev/null 2>&1; then
	need="$need libopencv-dev libopencv-contrib-dev"
fi
# The lane display's browser tests (display/) drive Debian's chromium headless; the kiosk shows
# Japanese, Chinese and Korean, which need the Noto CJK fonts.
command -v chromium >/dev/null 2>&1 || need="$need chromium"
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need="$need fonts-noto-cjk"
if [ -n "$need" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "setup: missing Debian packages:$need (run as root or install them)" >&2
		exit 1
	fi
	echo "setup: installing$need" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need
fi
go mod download
