#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct node { struct node *l, *r; int k; };
static struct node *ins(struct node *n, int k) { if (!n) { n = calloc(1, sizeof *n); n->k = k; return n; }
  if (k < n->k) n->l = ins(n->l, k); else n->r = ins(n->r, k); return n; }
int main(void) { struct node *t = 0; for (int i = 0; i < 1000; i++) t = ins(t, (i * 7919) % 1000); printf("%d\n", t->k); return 0; }
