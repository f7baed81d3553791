package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gonbd/gonbd/filters/blocksize"
	blocksizepolicy "github.com/gonbd/gonbd/filters/blocksize-policy"
	"github.com/gonbd/gonbd/filters/bzip2"
	"github.com/gonbd/gonbd/filters/cache"
	"github.com/gonbd/gonbd/filters/cacheextents"
	"github.com/gonbd/gonbd/filters/checkwrite"
	"github.com/gonbd/gonbd/filters/count"
	"github.com/gonbd/gonbd/filters/cow"
	"github.com/gonbd/gonbd/filters/ddrescue"
	"github.com/gonbd/gonbd/filters/delay"
	errorfilter "github.com/gonbd/gonbd/filters/error"
	"github.com/gonbd/gonbd/filters/evil"
	"github.com/gonbd/gonbd/filters/exitlast"
	"github.com/gonbd/gonbd/filters/exitwhen"
	"github.com/gonbd/gonbd/filters/exportname"
	"github.com/gonbd/gonbd/filters/extentlist"
	"github.com/gonbd/gonbd/filters/fua"
	"github.com/gonbd/gonbd/filters/gzip"
	"github.com/gonbd/gonbd/filters/ip"
	"github.com/gonbd/gonbd/filters/limit"
	logfilter "github.com/gonbd/gonbd/filters/log"
	"github.com/gonbd/gonbd/filters/lzip"
	mapfilter "github.com/gonbd/gonbd/filters/map"
	multiconn "github.com/gonbd/gonbd/filters/multi-conn"
	"github.com/gonbd/gonbd/filters/nocache"
	"github.com/gonbd/gonbd/filters/noextents"
	"github.com/gonbd/gonbd/filters/nofilter"
	"github.com/gonbd/gonbd/filters/noparallel"
	"github.com/gonbd/gonbd/filters/nozero"
	"github.com/gonbd/gonbd/filters/offset"
	"github.com/gonbd/gonbd/filters/openonce"
	"github.com/gonbd/gonbd/filters/partition"
	"github.com/gonbd/gonbd/filters/pause"
	"github.com/gonbd/gonbd/filters/protect"
	"github.com/gonbd/gonbd/filters/qcow2dec"
	"github.com/gonbd/gonbd/filters/rate"
	"github.com/gonbd/gonbd/filters/readahead"
	"github.com/gonbd/gonbd/filters/readonly"
	"github.com/gonbd/gonbd/filters/retry"
	retryrequest "github.com/gonbd/gonbd/filters/retry-request"
	"github.com/gonbd/gonbd/filters/rotational"
	"github.com/gonbd/gonbd/filters/scan"
	"github.com/gonbd/gonbd/filters/spinning"
	"github.com/gonbd/gonbd/filters/stats"
	"github.com/gonbd/gonbd/filters/swab"
	"github.com/gonbd/gonbd/filters/tar"
	timelimit "github.com/gonbd/gonbd/filters/time-limit"
	tlsfallback "github.com/gonbd/gonbd/filters/tls-fallback"
	"github.com/gonbd/gonbd/filters/truncate"
	"github.com/gonbd/gonbd/filters/xz"
	"github.com/gonbd/gonbd/plugins/curl"
	"github.com/gonbd/gonbd/plugins/data"
	"github.com/gonbd/gonbd/plugins/eval"
	"github.com/gonbd/gonbd/plugins/file"
	"github.com/gonbd/gonbd/plugins/full"
	"github.com/gonbd/gonbd/plugins/info"
	"github.com/gonbd/gonbd/plugins/memory"
	"github.com/gonbd/gonbd/plugins/nbd"
	"github.com/gonbd/gonbd/plugins/null"
	"github.com/gonbd/gonbd/plugins/ones"
	"github.com/gonbd/gonbd/plugins/partitioning"
	"github.com/gonbd/gonbd/plugins/pattern"
	"github.com/gonbd/gonbd/plugins/random"
	"github.com/gonbd/gonbd/plugins/sh"
	sparserandom "github.com/gonbd/gonbd/plugins/sparse-random"
	"github.com/gonbd/gonbd/plugins/split"
	"github.com/gonbd/gonbd/plugins/ssh"
	"github.com/gonbd/gonbd/plugins/zero"
	"github.com/gonbd/gonbd/server"
)

// linked lists the plugins and filters this gonbd is built with. Adding one is a line
// here (its module being in go.work): there is no init-time registration to hunt for.
type linked struct {
	plugins []server.PluginSpec
	filters []server.FilterSpec
	// stdioInUse is set under -s, where standard input and output are the client's
	// connection: C plugins learn it from nbdkit_stdio_safe.
	stdioInUse bool
}

// linkedSpecs returns what the gonbd command links.
func linkedSpecs() linked {
	return linked{
		plugins: []server.PluginSpec{
			curl.Spec(),
			data.Spec(),
			eval.Spec(),
			file.Spec(),
			full.Spec(),
			info.Spec(),
			memory.Spec(),
			nbd.Spec(),
			null.Spec(),
			ones.Spec(),
			partitioning.Spec(),
			pattern.Spec(),
			random.Spec(),
			sh.Spec(),
			sparserandom.Spec(),
			split.Spec(),
			ssh.Spec(),
			zero.Spec(),
		},
		filters: []server.FilterSpec{
			blocksize.Spec(),
			blocksizepolicy.Spec(),
			bzip2.Spec(),
			cache.Spec(),
			cacheextents.Spec(),
			checkwrite.Spec(),
			count.Spec(),
			cow.Spec(),
			ddrescue.Spec(),
			delay.Spec(),
			errorfilter.Spec(),
			evil.Spec(),
			exitlast.Spec(),
			exitwhen.Spec(),
			exportname.Spec(),
			extentlist.Spec(),
			fua.Spec(),
			gzip.Spec(),
			ip.Spec(),
			limit.Spec(),
			logfilter.Spec(),
			lzip.Spec(),
			mapfilter.Spec(),
			multiconn.Spec(),
			nocache.Spec(),
			noextents.Spec(),
			nofilter.Spec(),
			noparallel.Spec(),
			nozero.Spec(),
			offset.Spec(),
			openonce.Spec(),
			partition.Spec(),
			pause.Spec(),
			protect.Spec(),
			qcow2dec.Spec(),
			rate.Spec(),
			readahead.Spec(),
			readonly.Spec(),
			retry.Spec(),
			retryrequest.Spec(),
			rotational.Spec(),
			scan.Spec(),
			spinning.Spec(),
			stats.Spec(),
			swab.Spec(),
			tar.Spec(),
			timelimit.Spec(),
			tlsfallback.Spec(),
			truncate.Spec(),
			xz.Spec(),
		},
	}
}

// plugin returns the plugin called name.
func (l linked) plugin(name string) (server.PluginSpec, error) {
	for _, p := range l.plugins {
		if p.Name == name {
			return p, nil
		}
	}
	return server.PluginSpec{}, fmt.Errorf("unknown plugin %q (linked plugins: %s)", name, l.pluginNames())
}

// filter returns the filter called name.
func (l linked) filter(name string) (server.FilterSpec, error) {
	for _, f := range l.filters {
		if f.Name == name {
			return f, nil
		}
	}
	return server.FilterSpec{}, fmt.Errorf("unknown filter %q (linked filters: %s)", name, l.filterNames())
}

func (l linked) pluginNames() string {
	names := make([]string, len(l.plugins))
	for i, p := range l.plugins {
		names[i] = p.Name
	}
	return listOrNone(names)
}

func (l linked) filterNames() string {
	names := make([]string, len(l.filters))
	for i, f := range l.filters {
		names[i] = f.Name
	}
	return listOrNone(names)
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
