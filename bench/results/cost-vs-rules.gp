# SPDX-License-Identifier: GPL-2.0-only
set terminal pngcairo size 1400,640 font 'DejaVu Sans,10'
set output 'cost-vs-rules.png'
set datafile missing '?'
set logscale xy 10
set grid
set key top left
set xrange [5:200000]
set yrange [*:5e6]
set format y "10^{%L}"
set xlabel 'CIDRs in the rule set'
set multiplot layout 1,2 title 'Added cost against rule count (median paired delta against no program; 2026-12-01 00:27:24 UTC)'
set title 'per unconnected UDP datagram (sendto, rotating destinations)'
set ylabel 'added ns per datagram'
plot 'cost-vs-rules.dat' using 1:2 with linespoints lw 2 title 'netpol', \
     '' using 1:3 with linespoints lw 2 title 'nftables interval set', \
     '' using 1:4 with linespoints lw 2 title 'iptables, linear rules', \
     '' using 1:8 with linespoints dt 2 title 'netpol connect(): in-kernel decision minus empty'
set title 'per TCP connection (connect + accept + close, rotating destinations)'
set ylabel 'added ns per connection'
plot 'cost-vs-rules.dat' using 1:5 with linespoints lw 2 title 'netpol', \
     '' using 1:6 with linespoints lw 2 title 'nftables interval set', \
     '' using 1:7 with linespoints lw 2 title 'iptables, linear rules'
unset multiplot
