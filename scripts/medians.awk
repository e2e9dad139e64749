# One line of figures from lines of `/usr/bin/time -f '%e %U %S'` output
# (wall, user and system seconds): NAME, the median and the minimum of the
# wall times, and the median CPU (user + system). Used by import_pair.sh
# and import_files.sh:  awk -v name=NAME -f scripts/medians.awk TIMES
{ w[NR] = $1; c[NR] = $2 + $3 }
function med(a, n,   t, i, j) {
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
  return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END {
  n = NR; m = w[1]
  for (i = 2; i <= n; i++) if (w[i] < m) m = w[i]
  printf "%-40s %12.3f %12.3f %12.3f\n", name, med(w, n), m, med(c, n)
}
