create table t(a integer primary key, b text, c real);
with recursive r(i) as (select 1 union all select i+1 from r where i < 200000) insert into t select i, hex(randomblob(32)), i*1.5 from r;
create index tb on t(b); select count(*), sum(c) from t where b > '8'; select b from t order by b desc limit 3;
