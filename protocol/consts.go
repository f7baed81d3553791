package protocol

// Magic numbers.
const (
	// Magic ("NBDMAGIC") opens every handshake.
	Magic uint64 = 0x4e42444d41474943
	// OldstyleMagic follows Magic in the oldstyle handshake.
	OldstyleMagic uint64 = 0x00420281861253
	// OptMagic ("IHAVEOPT") follows Magic in the newstyle handshake and opens every option.
	OptMagic uint64 = 0x49484156454F5054
	// OptReplyMagic opens every option reply.
	OptReplyMagic uint64 = 0x3e889045565a9

	RequestMagic         uint32 = 0x25609513
	ExtendedRequestMagic uint32 = 0x21e41c71
	SimpleReplyMagic     uint32 = 0x67446698
	StructuredReplyMagic uint32 = 0x668e33ef
	ExtendedReplyMagic   uint32 = 0x6e8a278c
)

// HandshakeFlags are the server's flags in the newstyle greeting.
type HandshakeFlags uint16

const (
	HandshakeFixedNewstyle HandshakeFlags = 1 << 0
	HandshakeNoZeroes      HandshakeFlags = 1 << 1
)

// ClientFlags are the client's answer to the newstyle greeting.
type ClientFlags uint32

const (
	ClientFixedNewstyle ClientFlags = 1 << 0
	ClientNoZeroes      ClientFlags = 1 << 1
)

// TransmissionFlags describe an export to the client.
type TransmissionFlags uint16

const (
	FlagHasFlags           TransmissionFlags = 1 << 0
	FlagReadOnly           TransmissionFlags = 1 << 1
	FlagSendFlush          TransmissionFlags = 1 << 2
	FlagSendFUA            TransmissionFlags = 1 << 3
	FlagRotational         TransmissionFlags = 1 << 4
	FlagSendTrim           TransmissionFlags = 1 << 5
	FlagSendWriteZeroes    TransmissionFlags = 1 << 6
	FlagSendDF             TransmissionFlags = 1 << 7
	FlagCanMultiConn       TransmissionFlags = 1 << 8
	FlagSendResize         TransmissionFlags = 1 << 9
	FlagSendCache          TransmissionFlags = 1 << 10
	FlagSendFastZero       TransmissionFlags = 1 << 11
	FlagBlockStatusPayload TransmissionFlags = 1 << 12
)

// Opt is an option type of the newstyle negotiation.
type Opt uint32

const (
	OptExportName      Opt = 1
	OptAbort           Opt = 2
	OptList            Opt = 3
	OptPeekExport      Opt = 4
	OptStartTLS        Opt = 5
	OptInfo            Opt = 6
	OptGo              Opt = 7
	OptStructuredReply Opt = 8
	OptListMetaContext Opt = 9
	OptSetMetaContext  Opt = 10
	OptExtendedHeaders Opt = 11
)

// Rep is an option reply type. Error replies have bit 31 set.
type Rep uint32

const (
	RepAck         Rep = 1
	RepServer      Rep = 2
	RepInfo        Rep = 3
	RepMetaContext Rep = 4

	repErrBit               = 1 << 31
	RepErrUnsup         Rep = repErrBit + 1
	RepErrPolicy        Rep = repErrBit + 2
	RepErrInvalid       Rep = repErrBit + 3
	RepErrPlatform      Rep = repErrBit + 4
	RepErrTLSReqd       Rep = repErrBit + 5
	RepErrUnknown       Rep = repErrBit + 6
	RepErrShutdown      Rep = repErrBit + 7
	RepErrBlockSizeReqd Rep = repErrBit + 8
	RepErrTooBig        Rep = repErrBit + 9
	RepErrExtHeaderReqd Rep = repErrBit + 10
)

// IsError reports whether r is an error reply.
func (r Rep) IsError() bool { return r&repErrBit != 0 }

// Info is an information type of NBD_OPT_INFO and NBD_OPT_GO.
type Info uint16

const (
	InfoExport      Info = 0
	InfoName        Info = 1
	InfoDescription Info = 2
	InfoBlockSize   Info = 3
)

// Cmd is a request type of the transmission phase.
type Cmd uint16

const (
	CmdRead        Cmd = 0
	CmdWrite       Cmd = 1
	CmdDisc        Cmd = 2
	CmdFlush       Cmd = 3
	CmdTrim        Cmd = 4
	CmdCache       Cmd = 5
	CmdWriteZeroes Cmd = 6
	CmdBlockStatus Cmd = 7
	CmdResize      Cmd = 8
)

// CmdFlags qualify a request.
type CmdFlags uint16

const (
	CmdFlagFUA        CmdFlags = 1 << 0
	CmdFlagNoHole     CmdFlags = 1 << 1
	CmdFlagDF         CmdFlags = 1 << 2
	CmdFlagReqOne     CmdFlags = 1 << 3
	CmdFlagFastZero   CmdFlags = 1 << 4
	CmdFlagPayloadLen CmdFlags = 1 << 5
)

// ReplyFlags qualify a structured or extended reply chunk.
type ReplyFlags uint16

// ReplyFlagDone marks the last chunk of a reply.
const ReplyFlagDone ReplyFlags = 1 << 0

// ReplyType is the type of a structured or extended reply chunk. Error types have bit 15
// set.
type ReplyType uint16

const (
	ReplyTypeNone           ReplyType = 0
	ReplyTypeOffsetData     ReplyType = 1
	ReplyTypeOffsetHole     ReplyType = 2
	ReplyTypeBlockStatus    ReplyType = 5
	ReplyTypeBlockStatusExt ReplyType = 6

	replyTypeErrBit                = 1 << 15
	ReplyTypeError       ReplyType = replyTypeErrBit + 1
	ReplyTypeErrorOffset ReplyType = replyTypeErrBit + 2
)

// IsError reports whether t is an error chunk type.
func (t ReplyType) IsError() bool { return t&replyTypeErrBit != 0 }

// Block status flags of the base:allocation meta context.
const (
	StateHole uint32 = 1 << 0
	StateZero uint32 = 1 << 1
)

// Meta context names and namespaces.
const (
	MetaContextBaseAllocation = "base:allocation"
	MetaNamespaceBase         = "base:"
)

// Sizes of the fixed parts of messages, in bytes.
const (
	OldstyleGreetingSize   = 152 // magic, oldstyle magic, size, flags, 124 zeroes
	NewstyleGreetingSize   = 18  // magic, option magic, handshake flags
	OptionHeaderSize       = 16
	OptionReplyHeaderSize  = 20
	ExportNameReplySize    = 10 // size and transmission flags, without the 124 zeroes
	ExportNameReplyZeroes  = 124
	RequestHeaderSize      = 28
	ExtendedRequestSize    = 32
	SimpleReplySize        = 16
	StructuredReplySize    = 20
	ExtendedReplySize      = 32
	BlockDescriptorSize    = 8
	BlockDescriptorExtSize = 16
)

// Limits the specification sets.
const (
	// MaxStringLength is the longest export name, description or error message a
	// peer must accept.
	MaxStringLength = 4096
	// DefaultMaxPayload is the largest payload a client may assume a server accepts
	// when the server advertises none (32 MiB).
	DefaultMaxPayload = 32 << 20
	// MaxBlockStatusDescriptors is the most descriptors a reply chunk should carry.
	MaxBlockStatusDescriptors = 1 << 20
)
