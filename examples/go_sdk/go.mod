module wavespeed-mock/examples/go_sdk

go 1.19

require github.com/WaveSpeedAI/wavespeed-go v0.2.1

// The official Go SDK from the module proxy, as a user gets it. Offline, point it at a
// checkout of the SDK's v0.2.1 (commit 268f200) instead:
//   go mod edit -replace github.com/WaveSpeedAI/wavespeed-go=/path/to/wavespeed-go
