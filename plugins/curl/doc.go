// Package curl is gonbd's plugin for disk images on web servers, after nbdkit's curl
// plugin: it serves the object at an http:// or https:// URL as a read-only export,
// reading the ranges clients ask for with HTTP range requests. It is built on Go's
// net/http, not on libcurl, and keeps nbdkit's parameters where HTTP gives them a
// meaning.
//
// From the command line:
//
//	gonbd curl https://example.com/disk.img
//	gonbd curl url=https://example.com/disk.img cainfo=ca.pem user=alice password=+pw.txt
//	gonbd curl https://service.example.com/disk.img \
//	    header-script='printf "Authorization: Bearer "; get-token' header-script-renew=50
//
// The object's size comes from a HEAD request, or from a GET of its first byte when
// HEAD does not tell it; a server that does not serve ranges is refused when a client
// connects. Each read is one GET of the range, checked against the Content-Range of the
// answer; requests that fail in a way that may pass (5xx, 408 and 429 answers, dropped
// connections, answers cut short, time-outs) are tried again a few times, with
// exponential back-off. Every client connection shares one pool of keep-alive
// connections to the server (connections=, default 4), so requests run in parallel
// up to that many at once.
//
// The export is read-only: HTTP has no standard way to write a range of an object, and
// web servers rarely accept the uploads libcurl would make.
//
// Programs that embed the server make the plugin with [New]:
//
//	p, err := curl.New(curl.Options{URL: "https://example.com/disk.img"})
//	if err != nil {
//		return err
//	}
//	defer p.Cleanup(ctx)
//	layer := server.PluginLayer("curl", p)
//
// [Spec] is what the gonbd command links to offer the plugin by name.
package curl
