package authflow

// RateIPForTest exposes rateIP to the external test package.
var RateIPForTest = rateIP
