my %h; for my $i (1..300000) { $h{"k$i"} = join(",", map { $_ * $i } 1..5); }
my @s = sort { $h{$a} cmp $h{$b} } keys %h; my $t = join("\n", @s); $t =~ s/k(\d+)/K$1/g; print length($t), "\n";
