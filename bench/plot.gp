# Draws the ratios of one tconv_bench run (its --plot_data file) as bar charts, one bar per
# suite case and batch, against issue 17's targets. bench/run.sh calls it as
#   gnuplot -e "data='build/bench/tconv_bench.tsv'; out='build/bench/tconv_bench.png'" bench/plot.gp
# Columns: case, then per thread count (1, 2: the default --threads): best-peer/tconv, cf/cl,
# x1T.
# A target line (dashed red, with a key entry) and the line at 1 (black) of one chart.
target(y) = sprintf("set arrow 1 from graph 0, first %g to graph 1, first %g nohead dt 2 lw 2 lc rgb 'red' front; set arrow 2 from graph 0, first 1 to graph 1, first 1 nohead lc rgb 'black' front", y, y)
set terminal pngcairo size 1600,1500 noenhanced font "sans,10"
set output out
set datafile separator "\t"
set datafile missing "NaN"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 noborder
set boxwidth 0.9
set xtics rotate by 90 right nomirror scale 0 font ",9"
set key top right horizontal
set grid ytics
set logscale y 2
set lmargin 10
set bmargin 11
one_thread = "#4e79a7"
two_threads = "#f28e2b"

set multiplot layout 3,1 title "tconv fast path on bench/suite.json (tconv_bench, 1 and 2 threads)"

set title "best peer's time / tconv's time (the fastest of oneDNN, PyTorch, XNNPACK and ONNX Runtime; > 1: tconv faster; target: geomean >= 1.5)"
set yrange [0.25:16]
eval target(1.0)
plot data using 2:xtic(1) title "1 thread" lc rgb one_thread, \
     '' using 5 title "2 threads" lc rgb two_threads, \
     NaN with lines dt 2 lw 2 lc rgb "red" title "1.0: none below"

set title "channels_first time / channels_last time (same layer)"
set yrange [0.5:2]
eval target(1.25)
plot data using 3:xtic(1) title "1 thread" lc rgb one_thread, \
     '' using 6 title "2 threads" lc rgb two_threads, \
     NaN with lines dt 2 lw 2 lc rgb "red" title "1.25: none above"

set title "speed-up of 2 threads over 1"
set yrange [0.5:4]
eval target(1.8)
plot data using 7:xtic(1) title "2 threads / 1 thread" lc rgb two_threads, \
     NaN with lines dt 2 lw 2 lc rgb "red" title "1.8: large layers"

unset multiplot
