// What libfastconv exports. The library is built with hidden visibility (only what is marked FASTCONV_API is
// in its dynamic symbol table); tests and the Python module link the engine's objects directly and see everything.
#pragma once
#if defined(_WIN32)
#define FASTCONV_API
#else
#define FASTCONV_API __attribute__((visibility("default")))
#endif
