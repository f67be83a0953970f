#!/bin/sh
# Debian's Chromium without CAP_SYS_NICE. Run as root, Chromium raises its browser threads to nice -8, and on a
# 2-core machine they then starve the server under test and PostgreSQL (a test file took minutes instead of seconds
# with three browsers open). Without the capability those threads stay at the priority everything else has.
exec setpriv --bounding-set -sys_nice --inh-caps -sys_nice /usr/bin/chromium "$@"
