#include "common.h"
int main(void) { CHECK(1); return finish("test_async"); }
