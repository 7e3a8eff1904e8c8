// A regular-expression search for the subset of Python's re that name patterns use, so that a
// Regex matcher decides names in C: a DFA built once per pattern, with no backtracking (no
// pattern can make a search slow). Patterns outside the subset are declined, and the caller
// keeps using Python's re for them. Knows nothing of Python; patterns arrive already validated
// by re.compile.
#pragma once

#include <stddef.h>

typedef struct cc_regex cc_regex;

// The results of cc_regex_search.
enum {
    CC_REGEX_NO = 0,
    CC_REGEX_YES = 1,
    // The pattern's \d \w \s (or negations) met a non-ASCII character, whose class only
    // Python's Unicode tables know: the caller asks re.
    CC_REGEX_UNSURE = 2,
};

// Compiles pattern (len bytes of UTF-8, syntax of Python's re, no flags) into *out; *out is
// NULL when the pattern lies outside the subset (see docs/matching.md), with no error. 0, or -1
// with CC_E_NO_MEMORY.
int cc_regex_compile(const char *pattern, size_t len, cc_regex **out);
// NULL is a no-op.
void cc_regex_free(cc_regex *re);
// re.search(pattern, s) is not None, for s of len bytes of UTF-8: CC_REGEX_NO, CC_REGEX_YES
// or CC_REGEX_UNSURE. Reads re only, allocates nothing.
int cc_regex_search(const cc_regex *re, const char *s, size_t len);
// The same for a NUL-terminated s (names), without measuring it first.
int cc_regex_search_cstr(const cc_regex *re, const char *s);
