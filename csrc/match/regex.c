// The regex subset of match/regex.h: a parser of Python re syntax into a small syntax tree, a
// Thompson program compiled from it, and a DFA built from the program by subset construction.
// A search is a boolean (is there a match anywhere), so groups, greediness and laziness do not
// matter: a new attempt simply starts at every position. Past the DFA's size cap the program is
// simulated directly (a set of program counters per position): slower, never exponential.
#include "match/regex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "match/match_impl.h"
#include "util/alloc.h"

// Symbols: an ASCII character is itself; every non-ASCII code point is SYM_OTHER. The subset
// treats all non-ASCII code points alike, except through \d \w \s (see CC_REGEX_UNSURE).
#define N_SYMBOLS 129
#define SYM_OTHER 128

#define MAX_INSTS 1024          // program size; larger patterns are declined
#define MAX_NESTING 64          // groups inside groups; deeper patterns are declined
#define MAX_COUNT 1000          // the largest {m,n} bound accepted
#define MAX_EMIT_WORK (1 << 20) // syntax nodes visited while compiling (nested counts)
#define MAX_DFA_STATES 512      // past this, the program is simulated instead
#define MAX_DFA_WORK (1 << 22)  // program counters handled while building the DFA
#define DFA_TABLE 2048          // interning table of DFA states: a power of two > 2 * states

typedef struct {
    uint64_t w[3]; // bit c: symbol c is in the set
} symset;

static void
symset_add(symset *s, int c)
{
    s->w[c >> 6] |= (uint64_t)1 << (c & 63);
}

static int
symset_has(const symset *s, int c)
{
    return (int)((s->w[c >> 6] >> (c & 63)) & 1);
}

static void
symset_add_range(symset *s, int lo, int hi)
{
    for (int c = lo; c <= hi; c++) {
        symset_add(s, c);
    }
}

static void
symset_union(symset *s, const symset *t)
{
    for (int i = 0; i < 3; i++) {
        s->w[i] |= t->w[i];
    }
}

static void
symset_complement(symset *s)
{
    symset all = {{0, 0, 0}};
    symset_add_range(&all, 0, N_SYMBOLS - 1);
    for (int i = 0; i < 3; i++) {
        s->w[i] = all.w[i] & ~s->w[i];
    }
}

// --- parsing ----------------------------------------------------------------------------------

typedef enum {
    AST_SET, // one symbol of a set
    AST_BEGIN,
    AST_END,
    AST_CAT, // children in order (none: the empty string)
    AST_ALT,
    AST_REPEAT, // child `first`, min to max times (max < 0: unbounded)
} ast_kind;

typedef struct {
    ast_kind kind;
    int set;
    int min, max;
    int first, last; // children (CAT, ALT) or the repeated node (REPEAT); -1 when none
    int next;        // the next sibling, or -1
} ast_node;

typedef struct {
    const uint8_t *p;
    size_t len, pos;
    ast_node *nodes;
    size_t n_nodes, cap_nodes;
    symset *sets;
    size_t n_sets, cap_sets;
    int unicode_classes; // \d \w \s or a negation appear
    int has_end;         // $ appears
    int declined;        // the pattern lies outside the subset (else -1 means no memory)
} parser;

static int
decline(parser *P)
{
    P->declined = 1;
    return -1;
}

static int
peek(const parser *P)
{
    return P->pos < P->len ? P->p[P->pos] : -1;
}

static int
new_node(parser *P, ast_kind kind)
{
    if (cc_grow((void **)&P->nodes, &P->cap_nodes, P->n_nodes + 1, sizeof(ast_node)) < 0) {
        return -1;
    }
    P->nodes[P->n_nodes] = (ast_node){kind, -1, 0, 0, -1, -1, -1};
    return (int)P->n_nodes++;
}

static void
add_child(parser *P, int parent, int child)
{
    ast_node *a = &P->nodes[parent];
    if (a->first < 0) {
        a->first = child;
    } else {
        P->nodes[a->last].next = child;
    }
    a->last = child;
}

// A SET node for s (sets are shared between nodes when equal).
static int
set_node(parser *P, const symset *s)
{
    size_t i = 0;
    while (i < P->n_sets && memcmp(&P->sets[i], s, sizeof *s) != 0) {
        i++;
    }
    if (i == P->n_sets) {
        if (cc_grow((void **)&P->sets, &P->cap_sets, P->n_sets + 1, sizeof(symset)) < 0) {
            return -1;
        }
        P->sets[P->n_sets++] = *s;
    }
    int node = new_node(P, AST_SET);
    if (node >= 0) {
        P->nodes[node].set = (int)i;
    }
    return node;
}

static int
literal_node(parser *P, int c)
{
    symset s = {{0, 0, 0}};
    symset_add(&s, c);
    return set_node(P, &s);
}

// Python's \d \w \s on ASCII (str patterns are Unicode patterns; these are their ASCII parts),
// and their negations.
static void
category_set(int c, symset *s)
{
    memset(s, 0, sizeof *s);
    switch (c) {
    case 'd':
    case 'D':
        symset_add_range(s, '0', '9');
        break;
    case 'w':
    case 'W':
        symset_add_range(s, 'a', 'z');
        symset_add_range(s, 'A', 'Z');
        symset_add_range(s, '0', '9');
        symset_add(s, '_');
        break;
    default: // s, S: str.isspace() on ASCII
        symset_add_range(s, '\t', '\r');
        symset_add_range(s, 0x1c, ' ');
        break;
    }
    if (c == 'D' || c == 'W' || c == 'S') {
        symset_complement(s);
    }
}

static int
hex_value(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int
is_ascii_alnum(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// An escape at P->pos (a backslash), as Python's _escape (outside a class) or _class_escape
// (inside): 1 and a literal in *lit, 2 and a category in *cat, or -1 (declined).
static int
parse_escape(parser *P, int in_class, int *lit, symset *cat)
{
    if (P->pos + 1 >= P->len) {
        return decline(P);
    }
    int c = P->p[P->pos + 1];
    P->pos += 2;
    static const char simple[] = "a\af\fn\nr\rt\tv\v\\\\";
    for (int i = 0; simple[i] != 0; i += 2) {
        if (c == simple[i]) {
            *lit = simple[i + 1];
            return 1;
        }
    }
    switch (c) {
    case 'd':
    case 'D':
    case 's':
    case 'S':
    case 'w':
    case 'W':
        category_set(c, cat);
        P->unicode_classes = 1;
        return 2;
    case 'b':
        // A backspace in a class; outside, a word boundary (not in the subset).
        if (!in_class) {
            return decline(P);
        }
        *lit = '\b';
        return 1;
    case 'x': {
        int hi = P->pos < P->len ? hex_value(P->p[P->pos]) : -1;
        int lo = P->pos + 1 < P->len ? hex_value(P->p[P->pos + 1]) : -1;
        // Exactly two digits; non-ASCII code points are outside the subset.
        if (hi < 0 || lo < 0 || hi >= 8) {
            return decline(P);
        }
        P->pos += 2;
        *lit = hi * 16 + lo;
        return 1;
    }
    default:
        // Other letters and digits are anchors, group references, octal or Unicode escapes
        // (or errors): outside the subset. Any other ASCII character stands for itself.
        if (is_ascii_alnum(c)) {
            return decline(P);
        }
        *lit = c;
        return 1;
    }
}

// Python's {m,n} at `at` (a '{'): 1 with the bounds and *end just past the '}', 0 when the
// brace is a literal '{' (Python's rule: not followed by digits, an optional comma and digits,
// and '}'), -1 when a bound passes MAX_COUNT or min > max (declined).
static int
parse_braces(const parser *P, size_t at, int *min, int *max, size_t *end)
{
    size_t i = at + 1;
    if (i < P->len && P->p[i] == '}') {
        return 0;
    }
    long lo = -1, hi = -1;
    for (; i < P->len && P->p[i] >= '0' && P->p[i] <= '9'; i++) {
        lo = (lo < 0 ? 0 : lo) * 10 + (P->p[i] - '0');
        lo = lo > MAX_COUNT ? MAX_COUNT + 1 : lo;
    }
    if (i < P->len && P->p[i] == ',') {
        for (i++; i < P->len && P->p[i] >= '0' && P->p[i] <= '9'; i++) {
            hi = (hi < 0 ? 0 : hi) * 10 + (P->p[i] - '0');
            hi = hi > MAX_COUNT ? MAX_COUNT + 1 : hi;
        }
    } else {
        hi = lo;
    }
    if (i >= P->len || P->p[i] != '}') {
        return 0;
    }
    *min = lo < 0 ? 0 : (int)lo;
    *max = hi < 0 ? -1 : (int)hi;
    *end = i + 1;
    if (*min > MAX_COUNT || *max > MAX_COUNT || (*max >= 0 && *max < *min)) {
        return -1;
    }
    return 1;
}

// A quantifier at P->pos: 1 with its bounds and *end past it, 0 when there is none, -1
// (declined).
static int
parse_quantifier(const parser *P, int *min, int *max, size_t *end)
{
    *end = P->pos + 1;
    switch (peek(P)) {
    case '*':
        *min = 0;
        *max = -1;
        return 1;
    case '+':
        *min = 1;
        *max = -1;
        return 1;
    case '?':
        *min = 0;
        *max = 1;
        return 1;
    case '{':
        return parse_braces(P, P->pos, min, max, end);
    default:
        return 0;
    }
}

// A character class at P->pos (a '['), following Python's parser item by item.
static int
parse_class(parser *P)
{
    P->pos++;
    int negate = 0;
    if (peek(P) == '^') {
        negate = 1;
        P->pos++;
    }
    symset s = {{0, 0, 0}};
    int n_items = 0;
    for (;;) {
        int c = peek(P);
        if (c < 0) {
            return decline(P);
        }
        if (c == ']' && n_items > 0) {
            P->pos++;
            break;
        }
        int lo = 0;
        int kind = 1; // 1: literal lo; 2: category cat
        symset cat;
        if (c == '\\') {
            if ((kind = parse_escape(P, 1, &lo, &cat)) < 0) {
                return -1;
            }
        } else {
            // '[' and doubled - & ~ | are what Python warns may become nested sets and set
            // operations: declined, so a future meaning cannot differ from this one.
            int doubled = P->pos + 1 < P->len && P->p[P->pos + 1] == c && strchr("-&~|", c);
            if (c == '[' || (n_items > 0 && doubled)) {
                return decline(P);
            }
            lo = c;
            P->pos++;
        }
        if (peek(P) == '-') {
            P->pos++;
            int d = peek(P);
            if (d < 0) {
                return decline(P);
            }
            if (d == ']') {
                // A trailing '-' is a literal.
                if (kind == 2) {
                    symset_union(&s, &cat);
                } else {
                    symset_add(&s, lo);
                }
                symset_add(&s, '-');
                P->pos++;
                break;
            }
            int hi = 0;
            if (d == '\\') {
                symset unused;
                if (parse_escape(P, 1, &hi, &unused) != 1) {
                    return decline(P);
                }
            } else {
                if (d == '-' || d == '[') {
                    return decline(P);
                }
                hi = d;
                P->pos++;
            }
            if (kind != 1 || hi < lo) {
                return decline(P); // an error for Python; not reached after re.compile
            }
            symset_add_range(&s, lo, hi);
        } else if (kind == 2) {
            symset_union(&s, &cat);
        } else {
            symset_add(&s, lo);
        }
        n_items++;
    }
    if (negate) {
        symset_complement(&s);
    }
    return set_node(P, &s);
}

static int parse_alt(parser *P, int depth);

static int
parse_atom(parser *P, int depth)
{
    int c = peek(P);
    switch (c) {
    case '(': {
        P->pos++;
        if (peek(P) == '?') {
            // Only (?:...); named groups, lookaround, flags and comments are declined.
            if (P->pos + 1 >= P->len || P->p[P->pos + 1] != ':') {
                return decline(P);
            }
            P->pos += 2;
        }
        if (depth >= MAX_NESTING) {
            return decline(P);
        }
        int inner = parse_alt(P, depth + 1);
        if (inner < 0) {
            return -1;
        }
        if (peek(P) != ')') {
            return decline(P);
        }
        P->pos++;
        return inner;
    }
    case '[':
        return parse_class(P);
    case '.': {
        symset s = {{0, 0, 0}};
        symset_add(&s, '\n');
        symset_complement(&s);
        P->pos++;
        return set_node(P, &s);
    }
    case '^':
        P->pos++;
        return new_node(P, AST_BEGIN);
    case '$':
        P->pos++;
        P->has_end = 1;
        return new_node(P, AST_END);
    case '\\': {
        int lit = 0;
        symset cat;
        int kind = parse_escape(P, 0, &lit, &cat);
        if (kind < 0) {
            return -1;
        }
        return kind == 2 ? set_node(P, &cat) : literal_node(P, lit);
    }
    case '*':
    case '+':
    case '?':
        return decline(P); // nothing to repeat: an error for Python
    case '{': {
        int min, max;
        size_t end;
        if (parse_braces(P, P->pos, &min, &max, &end) != 0) {
            return decline(P); // a repeat of nothing, or of a repeat
        }
        P->pos++;
        return literal_node(P, '{');
    }
    default:
        P->pos++;
        return literal_node(P, c);
    }
}

// An atom and its quantifier.
static int
parse_item(parser *P, int depth)
{
    int atom = parse_atom(P, depth);
    if (atom < 0) {
        return -1;
    }
    int min, max;
    size_t end;
    int q = parse_quantifier(P, &min, &max, &end);
    if (q <= 0) {
        return q < 0 ? decline(P) : atom;
    }
    ast_kind k = P->nodes[atom].kind;
    if (k == AST_BEGIN || k == AST_END) {
        return decline(P);
    }
    P->pos = end;
    if (peek(P) == '?') {
        P->pos++; // lazy: the same strings match
    } else if (peek(P) == '+') {
        return decline(P); // possessive: fewer strings may match
    }
    int min2, max2;
    if (parse_quantifier(P, &min2, &max2, &end) != 0) {
        return decline(P); // a repeat of a repeat: an error for Python
    }
    int r = new_node(P, AST_REPEAT);
    if (r >= 0) {
        P->nodes[r].first = atom;
        P->nodes[r].min = min;
        P->nodes[r].max = max;
    }
    return r;
}

static int
parse_cat(parser *P, int depth)
{
    int cat = new_node(P, AST_CAT);
    while (cat >= 0 && P->pos < P->len && peek(P) != '|' && peek(P) != ')') {
        int item = parse_item(P, depth);
        if (item < 0) {
            return -1;
        }
        add_child(P, cat, item);
    }
    return cat;
}

static int
parse_alt(parser *P, int depth)
{
    int first = parse_cat(P, depth);
    if (first < 0 || peek(P) != '|') {
        return first;
    }
    int alt = new_node(P, AST_ALT);
    if (alt < 0) {
        return -1;
    }
    add_child(P, alt, first);
    while (peek(P) == '|') {
        P->pos++;
        int next = parse_cat(P, depth);
        if (next < 0) {
            return -1;
        }
        add_child(P, alt, next);
    }
    return alt;
}

// --- the program ------------------------------------------------------------------------------

typedef enum {
    OP_CHAR,  // a symbol of sets[set], then pc + 1
    OP_SPLIT, // x or y
    OP_JMP,   // x
    OP_BEGIN, // at position 0, then pc + 1
    OP_END,   // at the end or before a final newline, then pc + 1
    OP_MATCH,
} op_kind;

typedef struct {
    uint8_t op;
    uint16_t set;
    int32_t x, y;
} inst;

// State flags. F_UNSURE marks the one extra state that a non-ASCII byte leads to when the
// pattern has \d \w \s: only re knows their Unicode members.
enum { F_ACCEPT = 1, F_DEAD = 2, F_UNSURE = 4, F_END_ACCEPT = 8 };

struct cc_regex {
    inst *insts;
    int n_insts;
    symset *sets;
    int unicode_classes, has_end;
    // The DFA; jump is NULL when it passed its caps (the program is simulated instead).
    uint8_t cls[256]; // byte -> class; the last class is a UTF-8 continuation byte
    int n_classes;
    int n_states;
    uint16_t *trans; // n_states x n_classes, while the DFA is built
    // What the search runs on: state s's row starts at s << row_shift (rows padded to a power
    // of two), and an entry is the next state's row start, plus 1 when that state ends the
    // search (accepting, dead or unsure). The search loop then adds and loads, no multiply.
    uint32_t *jump;
    int row_shift;
    uint8_t *flags; // F_* per state
    uint32_t *state_off;
    uint16_t *state_pcs; // state s: state_pcs[state_off[s] .. state_off[s + 1])
};

typedef struct {
    inst *insts;
    int n;
    long work;
} emitter;

static int
put(emitter *e, op_kind op)
{
    if (e->n >= MAX_INSTS) {
        return -1;
    }
    e->insts[e->n] = (inst){(uint8_t)op, 0, 0, 0};
    return e->n++;
}

// Appends the code of node; -1 when the program passes its caps (declined). Recursion follows
// the syntax tree, whose depth the parser caps (MAX_NESTING groups).
static int
emit(emitter *e, const parser *P, int node)
{
    if (++e->work > MAX_EMIT_WORK) {
        return -1;
    }
    const ast_node *a = &P->nodes[node];
    switch (a->kind) {
    case AST_SET: {
        int pc = put(e, OP_CHAR);
        if (pc >= 0) {
            e->insts[pc].set = (uint16_t)a->set;
        }
        return pc < 0 ? -1 : 0;
    }
    case AST_BEGIN:
        return put(e, OP_BEGIN) < 0 ? -1 : 0;
    case AST_END:
        return put(e, OP_END) < 0 ? -1 : 0;
    case AST_CAT:
        for (int c = a->first; c >= 0; c = P->nodes[c].next) {
            if (emit(e, P, c) < 0) {
                return -1;
            }
        }
        return 0;
    case AST_ALT: {
        // Jumps to the end are chained through their x until the end is known.
        int pending = -1;
        for (int c = a->first; c >= 0; c = P->nodes[c].next) {
            if (P->nodes[c].next < 0) {
                if (emit(e, P, c) < 0) {
                    return -1;
                }
                break;
            }
            int split = put(e, OP_SPLIT);
            if (split < 0 || emit(e, P, c) < 0) {
                return -1;
            }
            int jmp = put(e, OP_JMP);
            if (jmp < 0) {
                return -1;
            }
            e->insts[jmp].x = pending;
            pending = jmp;
            e->insts[split].x = split + 1;
            e->insts[split].y = e->n;
        }
        while (pending >= 0) {
            int next = e->insts[pending].x;
            e->insts[pending].x = e->n;
            pending = next;
        }
        return 0;
    }
    case AST_REPEAT: {
        for (int i = 0; i < a->min; i++) {
            if (emit(e, P, a->first) < 0) {
                return -1;
            }
        }
        if (a->max < 0) {
            int split = put(e, OP_SPLIT);
            if (split < 0 || emit(e, P, a->first) < 0) {
                return -1;
            }
            int jmp = put(e, OP_JMP);
            if (jmp < 0) {
                return -1;
            }
            e->insts[jmp].x = split;
            e->insts[split].x = split + 1;
            e->insts[split].y = e->n;
            return 0;
        }
        // Optional copies: each split either enters one more copy or leaves (chained via y).
        int pending = -1;
        for (int i = a->min; i < a->max; i++) {
            int split = put(e, OP_SPLIT);
            if (split < 0) {
                return -1;
            }
            e->insts[split].x = split + 1;
            e->insts[split].y = pending;
            pending = split;
            if (emit(e, P, a->first) < 0) {
                return -1;
            }
        }
        while (pending >= 0) {
            int next = e->insts[pending].y;
            e->insts[pending].y = e->n;
            pending = next;
        }
        return 0;
    }
    }
    return -1;
}

// --- sets of program counters -----------------------------------------------------------------

typedef struct {
    uint32_t *mark; // mark[pc] == gen: pc is already in the set being built
    uint32_t gen;
    int32_t *stack; // 2 * n_insts + 1 entries
} closure_buf;

// Adds to list (*n entries) what pc leads to without consuming a symbol, at a position where
// ^ holds iff begin and $ iff end: the CHAR and MATCH instructions reached, and the END
// instructions met when $ does not hold (kept, so that the end of the string can pass them).
static void
closure_add(const cc_regex *re, closure_buf *b, int pc, int begin, int end, uint16_t *list, int *n)
{
    int sp = 0;
    b->stack[sp++] = pc;
    while (sp > 0) {
        pc = b->stack[--sp];
        if (b->mark[pc] == b->gen) {
            continue;
        }
        b->mark[pc] = b->gen;
        const inst *in = &re->insts[pc];
        switch ((op_kind)in->op) {
        case OP_JMP:
            b->stack[sp++] = in->x;
            break;
        case OP_SPLIT:
            b->stack[sp++] = in->y;
            b->stack[sp++] = in->x;
            break;
        case OP_BEGIN:
            // Past position 0, ^ never holds again: the thread ends.
            if (begin) {
                b->stack[sp++] = pc + 1;
            }
            break;
        case OP_END:
            if (end) {
                b->stack[sp++] = pc + 1;
            } else {
                list[(*n)++] = (uint16_t)pc;
            }
            break;
        case OP_CHAR:
        case OP_MATCH:
            list[(*n)++] = (uint16_t)pc;
            break;
        }
    }
}

static int
has_match(const cc_regex *re, const uint16_t *list, int n)
{
    for (int i = 0; i < n; i++) {
        if (re->insts[list[i]].op == OP_MATCH) {
            return 1;
        }
    }
    return 0;
}

// Whether $ holds at pos: the end, or just before a final newline (Python's AT_END).
static int
end_at(const uint8_t *u, size_t len, size_t pos)
{
    return pos == len || (pos + 1 == len && u[pos] == '\n');
}

// Simulates the program from pos, where the threads in seeds (and a new attempt) stand.
static int
simulate(const cc_regex *re, const uint8_t *u, size_t len, size_t pos, const uint16_t *seeds,
         int n_seeds)
{
    uint16_t list_a[MAX_INSTS], list_b[MAX_INSTS];
    uint32_t mark[MAX_INSTS];
    int32_t stack[2 * MAX_INSTS + 1];
    memset(mark, 0, (size_t)re->n_insts * sizeof(uint32_t));
    closure_buf b = {mark, 1, stack};
    uint16_t *cur = list_a, *next = list_b;
    int n = 0;
    int begin = pos == 0;
    int end = end_at(u, len, pos);
    for (int i = 0; i < n_seeds; i++) {
        closure_add(re, &b, seeds[i], begin, end, cur, &n);
    }
    closure_add(re, &b, 0, begin, end, cur, &n);
    for (;;) {
        if (has_match(re, cur, n)) {
            return CC_REGEX_YES;
        }
        if (pos >= len) {
            return CC_REGEX_NO;
        }
        int sym = u[pos++];
        if (sym >= 0x80) {
            sym = SYM_OTHER;
            while (pos < len && (u[pos] & 0xC0) == 0x80) {
                pos++;
            }
        }
        end = end_at(u, len, pos);
        b.gen++;
        int m = 0;
        for (int i = 0; i < n; i++) {
            const inst *in = &re->insts[cur[i]];
            if (in->op == OP_CHAR && symset_has(&re->sets[in->set], sym)) {
                closure_add(re, &b, cur[i] + 1, 0, end, next, &m);
            }
        }
        closure_add(re, &b, 0, 0, end, next, &m);
        uint16_t *t = cur;
        cur = next;
        next = t;
        n = m;
    }
}

// --- the DFA ----------------------------------------------------------------------------------

// Byte classes: symbols in the same class are in the same sets of every CHAR instruction, so
// the DFA needs one column per class. UTF-8 lead bytes take SYM_OTHER's class; continuation
// bytes get a last class of their own, which leaves every state unchanged. With \d \w \s,
// every non-ASCII byte takes that last class instead, which leads to the F_UNSURE state.
static void
byte_classes(cc_regex *re, int *rep)
{
    int cls[N_SYMBOLS] = {0};
    int n = 1;
    for (int pc = 0; pc < re->n_insts; pc++) {
        if (re->insts[pc].op != OP_CHAR) {
            continue;
        }
        const symset *s = &re->sets[re->insts[pc].set];
        int remap[2 * N_SYMBOLS];
        for (int i = 0; i < 2 * n; i++) {
            remap[i] = -1;
        }
        int m = 0;
        for (int c = 0; c < N_SYMBOLS; c++) {
            int key = cls[c] * 2 + symset_has(s, c);
            if (remap[key] < 0) {
                remap[key] = m++;
            }
            cls[c] = remap[key];
        }
        n = m;
    }
    for (int k = 0; k < n; k++) {
        rep[k] = -1;
    }
    for (int c = N_SYMBOLS - 1; c >= 0; c--) {
        rep[cls[c]] = c;
    }
    for (int byte = 0; byte < 256; byte++) {
        int lead = byte >= 0xC0 && !re->unicode_classes;
        re->cls[byte] = (uint8_t)(byte < 0x80 ? cls[byte] : lead ? cls[SYM_OTHER] : n);
    }
    re->n_classes = n + 1;
}

static int
compare_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static uint32_t
hash_list(const uint16_t *list, int n)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < n; i++) {
        h = (h ^ list[i]) * 16777619u;
    }
    return h;
}

typedef struct {
    cc_regex *re;
    int32_t table[DFA_TABLE]; // state ids by hash of their program counters; -1: empty
    size_t cap_pcs;
} dfa_builder;

// The id of the state holding list (sorted), added when new: >= 0, -2 past the state cap, or
// -1 (no memory).
static int
intern_state(dfa_builder *d, const uint16_t *list, int n)
{
    cc_regex *re = d->re;
    size_t i = hash_list(list, n) & (DFA_TABLE - 1);
    for (; d->table[i] >= 0; i = (i + 1) & (DFA_TABLE - 1)) {
        int s = d->table[i];
        uint32_t off = re->state_off[s];
        if ((int)(re->state_off[s + 1] - off) == n &&
            memcmp(re->state_pcs + off, list, (size_t)n * sizeof(uint16_t)) == 0) {
            return s;
        }
    }
    if (re->n_states >= MAX_DFA_STATES) {
        return -2;
    }
    uint32_t off = re->state_off[re->n_states];
    if (cc_grow((void **)&re->state_pcs, &d->cap_pcs, off + (size_t)n + 1, sizeof(uint16_t)) < 0) {
        return -1;
    }
    memcpy(re->state_pcs + off, list, (size_t)n * sizeof(uint16_t));
    re->state_off[re->n_states + 1] = off + (uint32_t)n;
    d->table[i] = re->n_states;
    return re->n_states++;
}

// Marks the states from which no string reaches a match (or an END instruction, which the end
// of the string may pass): a search stops there. A backward walk over the transitions.
static int
mark_dead(cc_regex *re)
{
    int ns = re->n_states;
    int nc = re->n_classes - 1; // the continuation class only loops
    size_t n_edges = (size_t)ns * (size_t)nc;
    uint32_t *start = cc_calloc((size_t)ns + 1, sizeof(uint32_t));
    uint16_t *from = cc_malloc((n_edges > 0 ? n_edges : 1) * sizeof(uint16_t));
    uint16_t *queue = cc_malloc((size_t)ns * sizeof(uint16_t));
    uint8_t *live = cc_calloc((size_t)ns, 1);
    int rc = -1;
    if (start == NULL || from == NULL || queue == NULL || live == NULL) {
        goto done;
    }
    for (size_t e = 0; e < n_edges; e++) {
        start[re->trans[(e / (size_t)nc) * (size_t)re->n_classes + e % (size_t)nc] + 1]++;
    }
    for (int s = 0; s < ns; s++) {
        start[s + 1] += start[s];
    }
    for (size_t e = 0; e < n_edges; e++) {
        uint16_t to = re->trans[(e / (size_t)nc) * (size_t)re->n_classes + e % (size_t)nc];
        from[start[to]++] = (uint16_t)(e / (size_t)nc);
    }
    // start[s] now ends s's predecessors; they begin where s - 1's end.
    int head = 0, tail = 0;
    for (int s = 0; s < ns; s++) {
        int has_end = 0;
        for (uint32_t i = re->state_off[s]; i < re->state_off[s + 1]; i++) {
            has_end = has_end || re->insts[re->state_pcs[i]].op == OP_END;
        }
        if ((re->flags[s] & F_ACCEPT) || has_end) {
            live[s] = 1;
            queue[tail++] = (uint16_t)s;
        }
    }
    while (head < tail) {
        int s = queue[head++];
        for (uint32_t i = s > 0 ? start[s - 1] : 0; i < start[s]; i++) {
            if (!live[from[i]]) {
                live[from[i]] = 1;
                queue[tail++] = from[i];
            }
        }
    }
    for (int s = 0; s < ns; s++) {
        if (!live[s]) {
            re->flags[s] |= F_DEAD;
        }
    }
    rc = 0;
done:
    cc_free(start);
    cc_free(from);
    cc_free(queue);
    cc_free(live);
    return rc;
}

static void
drop_dfa(cc_regex *re)
{
    cc_free(re->jump);
    re->jump = NULL;
    cc_free(re->trans);
    cc_free(re->flags);
    cc_free(re->state_off);
    cc_free(re->state_pcs);
    re->trans = NULL;
    re->flags = NULL;
    re->state_off = NULL;
    re->state_pcs = NULL;
    re->n_states = 0;
}

static uint32_t
row_start(const cc_regex *re, int s)
{
    int stops = re->flags[s] & (F_ACCEPT | F_DEAD | F_UNSURE);
    return ((uint32_t)s << re->row_shift) | (stops ? 1u : 0u);
}

// The search's table from trans (which it replaces): states 0 .. n_states, the last being the
// F_UNSURE state. 0, or -1 (no memory).
static int
build_jump(cc_regex *re)
{
    int nc = re->n_classes;
    int rows = re->n_states + 1;
    re->row_shift = 1; // a row start is even: its low bit is free for the stop mark
    while ((1 << re->row_shift) < nc) {
        re->row_shift++;
    }
    re->jump = cc_calloc((size_t)rows << re->row_shift, sizeof(uint32_t));
    if (re->jump == NULL) {
        return -1;
    }
    for (int s = 0; s < rows; s++) {
        for (int k = 0; k < nc; k++) {
            re->jump[((size_t)s << re->row_shift) + (size_t)k] =
                row_start(re, re->trans[(size_t)s * (size_t)nc + (size_t)k]);
        }
    }
    cc_free(re->trans);
    re->trans = NULL;
    return 0;
}

// Builds the DFA by subset construction. 0 (re->trans NULL past the caps), or -1 (no memory).
static int
build_dfa(cc_regex *re)
{
    int rep[N_SYMBOLS + 1];
    byte_classes(re, rep);
    int nc = re->n_classes;
    dfa_builder *d = cc_malloc(sizeof(dfa_builder));
    uint32_t *mark = cc_calloc((size_t)re->n_insts, sizeof(uint32_t));
    int32_t *stack = cc_malloc((2 * (size_t)re->n_insts + 1) * sizeof(int32_t));
    uint16_t *list = cc_malloc((size_t)re->n_insts * sizeof(uint16_t));
    // One row more than the states: the F_UNSURE state.
    re->trans = cc_malloc((size_t)(MAX_DFA_STATES + 1) * (size_t)nc * sizeof(uint16_t));
    re->flags = cc_calloc(MAX_DFA_STATES + 1, 1);
    re->state_off = cc_calloc(MAX_DFA_STATES + 1, sizeof(uint32_t));
    int rc = -1;
    if (d == NULL || mark == NULL || stack == NULL || list == NULL || re->trans == NULL ||
        re->flags == NULL || re->state_off == NULL) {
        goto done;
    }
    d->re = re;
    d->cap_pcs = 0;
    memset(d->table, 0xff, sizeof d->table);
    closure_buf b = {mark, 1, stack};
    int n = 0;
    closure_add(re, &b, 0, 1, 0, list, &n);
    qsort(list, (size_t)n, sizeof(uint16_t), compare_u16);
    if (intern_state(d, list, n) < 0) {
        goto done;
    }
    long work = 0;
    for (int s = 0; s < re->n_states; s++) {
        uint32_t off = re->state_off[s];
        int count = (int)(re->state_off[s + 1] - off);
        uint16_t *row = re->trans + (size_t)s * (size_t)nc;
        if (has_match(re, re->state_pcs + off, count)) {
            // A search stops at an accepting state: its row is never read.
            re->flags[s] |= F_ACCEPT;
            for (int k = 0; k < nc; k++) {
                row[k] = (uint16_t)s;
            }
            continue;
        }
        for (int k = 0; k + 1 < nc; k++) {
            b.gen++;
            n = 0;
            for (int i = 0; i < count; i++) {
                // state_pcs may move as states are added: index it afresh.
                const inst *in = &re->insts[re->state_pcs[off + (uint32_t)i]];
                if (in->op == OP_CHAR && symset_has(&re->sets[in->set], rep[k])) {
                    closure_add(re, &b, re->state_pcs[off + (uint32_t)i] + 1, 0, 0, list, &n);
                }
            }
            closure_add(re, &b, 0, 0, 0, list, &n);
            qsort(list, (size_t)n, sizeof(uint16_t), compare_u16);
            work += n + count;
            int t = work > MAX_DFA_WORK ? -2 : intern_state(d, list, n);
            if (t == -2) {
                drop_dfa(re);
                rc = 0;
                goto done;
            }
            if (t < 0) {
                goto done;
            }
            row[k] = (uint16_t)t;
        }
        row[nc - 1] = (uint16_t)(re->unicode_classes ? MAX_DFA_STATES : s);
    }
    // What the end of the string adds: $ holds there.
    for (int s = 0; s < re->n_states; s++) {
        b.gen++;
        n = 0;
        for (uint32_t i = re->state_off[s]; i < re->state_off[s + 1]; i++) {
            closure_add(re, &b, re->state_pcs[i], 0, 1, list, &n);
        }
        if (has_match(re, list, n)) {
            re->flags[s] |= F_END_ACCEPT;
        }
    }
    rc = mark_dead(re);
    // Moved next to the states (the F_UNSURE state's index is n_states); it loops on itself.
    int unsure = re->n_states;
    for (int s = 0; s < re->n_states; s++) {
        uint16_t *row = re->trans + (size_t)s * (size_t)nc;
        if (row[nc - 1] == MAX_DFA_STATES) {
            row[nc - 1] = (uint16_t)unsure;
        }
    }
    for (int k = 0; k < nc; k++) {
        re->trans[(size_t)unsure * (size_t)nc + (size_t)k] = (uint16_t)unsure;
    }
    re->flags[unsure] = F_UNSURE;
    if (rc == 0) {
        rc = build_jump(re);
    }
done:
    if (rc < 0) {
        drop_dfa(re);
    }
    cc_free(d);
    cc_free(mark);
    cc_free(stack);
    cc_free(list);
    return rc;
}

// --- the interface ----------------------------------------------------------------------------

void
cc_regex_free(cc_regex *re)
{
    if (re == NULL) {
        return;
    }
    drop_dfa(re);
    cc_free(re->insts);
    cc_free(re->sets);
    cc_free(re);
}

int
cc_regex_compile(const char *pattern, size_t len, cc_regex **out)
{
    *out = NULL;
    for (size_t i = 0; i < len; i++) {
        if ((uint8_t)pattern[i] >= 0x80) {
            return 0; // non-ASCII literals are outside the subset
        }
    }
    parser P;
    memset(&P, 0, sizeof P);
    P.p = (const uint8_t *)pattern;
    P.len = len;
    cc_regex *re = NULL;
    int rc = -1;
    int root = parse_alt(&P, 0);
    if (root < 0 && !P.declined) {
        goto done;
    }
    if (root < 0 || P.pos != len) {
        rc = 0;
        goto done;
    }
    re = cc_calloc(1, sizeof(cc_regex));
    if (re == NULL || (re->insts = cc_malloc(MAX_INSTS * sizeof(inst))) == NULL) {
        goto done;
    }
    emitter e = {re->insts, 0, 0};
    if (emit(&e, &P, root) < 0 || put(&e, OP_MATCH) < 0) {
        rc = 0; // past the program's caps
        goto done;
    }
    re->n_insts = e.n;
    re->unicode_classes = P.unicode_classes;
    re->has_end = P.has_end;
    re->sets = P.sets;
    P.sets = NULL;
    if (build_dfa(re) < 0) {
        goto done;
    }
    *out = re;
    re = NULL;
    rc = 0;
done:
    cc_regex_free(re);
    cc_free(P.nodes);
    cc_free(P.sets);
    return rc;
}

// Whether a non-ASCII byte comes within the first len bytes of u (or before its NUL, cstr).
static int
has_non_ascii(const uint8_t *u, size_t len, int cstr)
{
    for (size_t i = 0; cstr ? u[i] != 0 : i < len; i++) {
        if (u[i] >= 0x80) {
            return 1;
        }
    }
    return 0;
}

// The search over u: len bytes, or up to its NUL (cstr; len is then unknown until the end).
// Inlined into both entry points, so the per-byte loop carries no length logic it does not
// need.
static inline int
search(const cc_regex *re, const uint8_t *u, size_t len, int cstr)
{
    // Position 0 sees ^ hold (and $ in a string of no byte, or of one newline), which the DFA
    // does not model: those strings, and patterns past the DFA's cap, are simulated.
    int empty = cstr ? u[0] == 0 : len == 0;
    if (re->jump == NULL || empty) {
        if (cstr) {
            len = strlen((const char *)u);
        }
        if (re->unicode_classes && has_non_ascii(u, len, 0)) {
            return CC_REGEX_UNSURE;
        }
        return simulate(re, u, len, 0, NULL, 0);
    }
    const uint32_t *jump = re->jump;
    const uint8_t *flags = re->flags;
    uint32_t at = row_start(re, 0);
    size_t i = 0;
    for (;; i++) {
        if (at & 1) {
            uint8_t f = flags[at >> re->row_shift];
            return (f & F_ACCEPT) ? CC_REGEX_YES : (f & F_DEAD) ? CC_REGEX_NO : CC_REGEX_UNSURE;
        }
        if (cstr ? u[i] == 0 : i == len) {
            break;
        }
        if (u[i] == '\n' && re->has_end && (cstr ? u[i + 1] == 0 : i + 1 == len)) {
            // $ also holds before a final newline: the last two positions are simulated.
            uint32_t st = at >> re->row_shift;
            uint32_t off = re->state_off[st];
            return simulate(re, u, i + 1, i, re->state_pcs + off,
                            (int)(re->state_off[st + 1] - off));
        }
        at = jump[at + re->cls[u[i]]];
    }
    return (flags[at >> re->row_shift] & F_END_ACCEPT) ? CC_REGEX_YES : CC_REGEX_NO;
}

int
cc_regex_search(const cc_regex *re, const char *s, size_t len)
{
    return search(re, (const uint8_t *)s, len, 0);
}

int
cc_regex_search_cstr(const cc_regex *re, const char *s)
{
    return search(re, (const uint8_t *)s, 0, 1);
}
