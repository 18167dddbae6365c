{s+=$1;c[$1%100]++} END {print s, length(c)}
