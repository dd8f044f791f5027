# Draws one bench/service/run.sh run's comparison of serving systems (report.py writes the data
# and calls this): p50 at concurrency 1 and examples/s at concurrency 32 per layer, for tconv,
# MLServer and Triton (PyTriton), all driven by perf_analyzer.
#   gnuplot -e "data='...plot.tsv'; out='x.png'; floor_p50=130; floor_calls=15000" bench/service/plot.gp
# floor_p50, floor_calls: the empty RPC's p50 at concurrency 1 and calls/s at 32 (dashed lines).
# Columns: layer, mlserver p50, mlserver ex/s, pytriton p50, pytriton ex/s, tconv p50, tconv ex/s.
set terminal pngcairo size 1400,1000 noenhanced font "sans,10"
set output out
set datafile separator "\t"
set datafile missing "NaN"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 noborder
set boxwidth 0.9
set xtics rotate by 30 right nomirror scale 0
set key top left horizontal
set grid ytics
set logscale y 10
set bmargin 7
set multiplot layout 2,1 title "Serving Conv2DTranspose: tconv vs MLServer vs Triton (PyTriton), perf_analyzer, same machine and run"
floor_line(y, name) = sprintf("set arrow 1 from graph 0, first %g to graph 1, first %g nohead dt 2 lw 2 lc rgb 'red' front; set label 1 '%s' at graph 0.99, first %g right offset 0,0.7 tc rgb 'red' front", y, y, name, y)
set title "p50 latency at concurrency 1, one example per request (us, lower is better)"
if (floor_p50 > 0) { set yrange [floor_p50 / 2:*] }
eval floor_line(floor_p50, sprintf("empty RPC p50 (tconv loadgen): %.0f us", floor_p50))
plot data using 6:xtic(1) title "tconv" lc rgb "#4e79a7", \
     data using 4 title "Triton (PyTriton)" lc rgb "#76b900", \
     data using 2 title "MLServer" lc rgb "#f28e2b"
set title "throughput at concurrency 32, one example per request (examples/s, higher is better)"
if (floor_calls > 0) { set yrange [10:floor_calls * 3] }
eval floor_line(floor_calls, sprintf("empty RPC calls/s (tconv loadgen): %.0f", floor_calls))
plot data using 7:xtic(1) title "tconv" lc rgb "#4e79a7", \
     data using 5 title "Triton (PyTriton)" lc rgb "#76b900", \
     data using 3 title "MLServer" lc rgb "#f28e2b"
unset multiplot
