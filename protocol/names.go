package protocol

import "strconv"

// The String methods give the specification's names, for logs and error messages.

var optNames = [...]string{
	OptExportName: "NBD_OPT_EXPORT_NAME", OptAbort: "NBD_OPT_ABORT", OptList: "NBD_OPT_LIST",
	OptPeekExport: "NBD_OPT_PEEK_EXPORT", OptStartTLS: "NBD_OPT_STARTTLS", OptInfo: "NBD_OPT_INFO",
	OptGo: "NBD_OPT_GO", OptStructuredReply: "NBD_OPT_STRUCTURED_REPLY",
	OptListMetaContext: "NBD_OPT_LIST_META_CONTEXT", OptSetMetaContext: "NBD_OPT_SET_META_CONTEXT",
	OptExtendedHeaders: "NBD_OPT_EXTENDED_HEADERS",
}

func (o Opt) String() string {
	if int(o) < len(optNames) && optNames[o] != "" {
		return optNames[o]
	}
	return "NBD_OPT(" + strconv.FormatUint(uint64(o), 10) + ")"
}

var repNames = map[Rep]string{
	RepAck: "NBD_REP_ACK", RepServer: "NBD_REP_SERVER", RepInfo: "NBD_REP_INFO",
	RepMetaContext: "NBD_REP_META_CONTEXT", RepErrUnsup: "NBD_REP_ERR_UNSUP",
	RepErrPolicy: "NBD_REP_ERR_POLICY", RepErrInvalid: "NBD_REP_ERR_INVALID",
	RepErrPlatform: "NBD_REP_ERR_PLATFORM", RepErrTLSReqd: "NBD_REP_ERR_TLS_REQD",
	RepErrUnknown: "NBD_REP_ERR_UNKNOWN", RepErrShutdown: "NBD_REP_ERR_SHUTDOWN",
	RepErrBlockSizeReqd: "NBD_REP_ERR_BLOCK_SIZE_REQD", RepErrTooBig: "NBD_REP_ERR_TOO_BIG",
	RepErrExtHeaderReqd: "NBD_REP_ERR_EXT_HEADER_REQD",
}

func (r Rep) String() string {
	if s, ok := repNames[r]; ok {
		return s
	}
	return "NBD_REP(" + strconv.FormatUint(uint64(r), 10) + ")"
}

var cmdNames = [...]string{
	CmdRead: "NBD_CMD_READ", CmdWrite: "NBD_CMD_WRITE", CmdDisc: "NBD_CMD_DISC",
	CmdFlush: "NBD_CMD_FLUSH", CmdTrim: "NBD_CMD_TRIM", CmdCache: "NBD_CMD_CACHE",
	CmdWriteZeroes: "NBD_CMD_WRITE_ZEROES", CmdBlockStatus: "NBD_CMD_BLOCK_STATUS",
	CmdResize: "NBD_CMD_RESIZE",
}

func (c Cmd) String() string {
	if int(c) < len(cmdNames) {
		return cmdNames[c]
	}
	return "NBD_CMD(" + strconv.FormatUint(uint64(c), 10) + ")"
}

var infoNames = [...]string{
	InfoExport: "NBD_INFO_EXPORT", InfoName: "NBD_INFO_NAME",
	InfoDescription: "NBD_INFO_DESCRIPTION", InfoBlockSize: "NBD_INFO_BLOCK_SIZE",
}

func (i Info) String() string {
	if int(i) < len(infoNames) {
		return infoNames[i]
	}
	return "NBD_INFO(" + strconv.FormatUint(uint64(i), 10) + ")"
}

var replyTypeNames = map[ReplyType]string{
	ReplyTypeNone: "NBD_REPLY_TYPE_NONE", ReplyTypeOffsetData: "NBD_REPLY_TYPE_OFFSET_DATA",
	ReplyTypeOffsetHole: "NBD_REPLY_TYPE_OFFSET_HOLE", ReplyTypeBlockStatus: "NBD_REPLY_TYPE_BLOCK_STATUS",
	ReplyTypeBlockStatusExt: "NBD_REPLY_TYPE_BLOCK_STATUS_EXT", ReplyTypeError: "NBD_REPLY_TYPE_ERROR",
	ReplyTypeErrorOffset: "NBD_REPLY_TYPE_ERROR_OFFSET",
}

func (t ReplyType) String() string {
	if s, ok := replyTypeNames[t]; ok {
		return s
	}
	return "NBD_REPLY_TYPE(" + strconv.FormatUint(uint64(t), 10) + ")"
}
