// Package retryrequest is gonbd's retry-request filter, after nbdkit's: when a request
// fails, it sends the same request again to the same plugin handle after a delay, a
// few times, before giving up with the last error. It suits plugins that fail now and
// then for reasons that go away by themselves, such as a web server behind a load
// balancer that sometimes picks a bad backend.
//
// From the command line:
//
//	gonbd --filter=retry-request curl https://example.com/disk.img
//	gonbd --filter=retry-request PLUGIN retry-request-retries=5 retry-request-delay=1
//
// Opening the plugin is retried too, unless retry-request-open=false. The retry
// filter is the heavier alternative: it reopens the plugin before each retry.
//
// From Go, [New] wraps a layer with [Options]; [Spec] is what the gonbd command links.
package retryrequest
