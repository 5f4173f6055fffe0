#include "mcpstore.h"
int main() { return 0; }
