// The control of tests/architecture: the header tconv::client's users include builds with the
// same set-up that refuses the forbidden ones.
#include "tconv/client/client.h"
