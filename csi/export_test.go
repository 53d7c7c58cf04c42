package csi

// InUse exposes inUse to the integration tests, which live in package
// csi_test because internal/testutil imports this package.
var InUse = inUse
