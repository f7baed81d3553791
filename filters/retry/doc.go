// Package retry is gonbd's retry filter, after nbdkit's: when a request fails, it
// closes the plugin's handle for the connection, waits, opens a new one and sends the
// request again, a few times, before giving up. It makes long copies survive
// temporary failures of the plugin's source (a dropped SSH or HTTP connection, say)
// without changes to the plugin or the client.
//
// From the command line:
//
//	gonbd --filter=retry ssh host=remote.example.com /var/tmp/test.iso
//	gonbd --filter=retry PLUGIN retries=10 retry-delay=1 retry-exponential=no
//	gonbd --filter=retry PLUGIN retry-readonly=yes
//
// By default a request is retried five times, waiting 2 s before the first retry and
// twice as long before each next one. With retry-readonly=yes the plugin is reopened
// read-only after the first failure, for the rest of the connection.
//
// Because it replaces a connection's plugin handle under its requests, the filter
// serves one request at a time per connection (thread model serialize_requests). The
// lighter retry-request filter retries on the same handle instead.
//
// From Go, [New] wraps a layer with [Options]; [Spec] is what the gonbd command links.
package retry
