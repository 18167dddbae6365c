import java.util.*; import java.util.concurrent.*; import java.util.stream.*;
public class Work { public static void main(String[] a) throws Exception {
  ExecutorService ex = Executors.newFixedThreadPool(4); List<Future<Long>> fs = new ArrayList<>();
  for (int t = 0; t < 8; t++) { final int s = t; fs.add(ex.submit(() -> { Map<Integer,String> m = new HashMap<>(); long h = 0;
    for (int i = 0; i < 200000; i++) { m.put(i * s, "v" + i); h += m.get(i * s).hashCode(); } return h; })); }
  long h = 0; for (Future<Long> f : fs) h += f.get(); ex.shutdown();
  System.out.println(h + " " + IntStream.range(0, 1000000).parallel().mapToObj(Integer::toString).collect(Collectors.joining(",")).length()); } }
