package protocol

import (
	"strconv"
	"syscall"
)

// Errno is an error number on the wire. Only the values below are defined; a peer that
// receives another treats it as EINVAL.
type Errno uint32

const (
	EPERM     Errno = 1
	EIO       Errno = 5
	ENOMEM    Errno = 12
	EINVAL    Errno = 22
	ENOSPC    Errno = 28
	EOVERFLOW Errno = 75
	ENOTSUP   Errno = 95
	ESHUTDOWN Errno = 108
)

var errnoNames = map[Errno]string{
	EPERM:     "EPERM",
	EIO:       "EIO",
	ENOMEM:    "ENOMEM",
	EINVAL:    "EINVAL",
	ENOSPC:    "ENOSPC",
	EOVERFLOW: "EOVERFLOW",
	ENOTSUP:   "ENOTSUP",
	ESHUTDOWN: "ESHUTDOWN",
}

func (e Errno) String() string {
	if s, ok := errnoNames[e]; ok {
		return s
	}
	return "Errno(" + strconv.FormatUint(uint64(e), 10) + ")"
}

// Error makes an Errno usable as an error, with the text of the matching system error.
func (e Errno) Error() string {
	if e == 0 {
		return "success"
	}
	return e.Syscall().Error()
}

// Syscall returns the system error number for e. Numbers the specification does not
// define map to EINVAL, as it asks of clients.
func (e Errno) Syscall() syscall.Errno {
	switch e {
	case 0:
		return 0
	case EPERM:
		return syscall.EPERM
	case EIO:
		return syscall.EIO
	case ENOMEM:
		return syscall.ENOMEM
	case ENOSPC:
		return syscall.ENOSPC
	case EOVERFLOW:
		return syscall.EOVERFLOW
	case ENOTSUP:
		return syscall.ENOTSUP
	case ESHUTDOWN:
		return syscall.ESHUTDOWN
	default:
		return syscall.EINVAL
	}
}

// Is lets errors.Is(err, syscall.ENOSPC) hold for an Errno of the same meaning.
func (e Errno) Is(target error) bool {
	t, ok := target.(syscall.Errno)
	return ok && e != 0 && e.Syscall() == t
}

// ErrnoFromSyscall returns the wire error for a system error, as servers map them:
// EACCES and EROFS become EPERM, EFBIG and EDQUOT become ENOSPC, EOPNOTSUPP becomes
// ENOTSUP, ERANGE, E2BIG and EBADMSG (errors a client caused) become EINVAL, and anything
// else without a match becomes EIO.
func ErrnoFromSyscall(e syscall.Errno) Errno {
	if e == syscall.EOPNOTSUPP { // the same number as ENOTSUP on some systems only
		return ENOTSUP
	}
	switch e {
	case 0:
		return 0
	case syscall.EPERM, syscall.EACCES, syscall.EROFS:
		return EPERM
	case syscall.EIO:
		return EIO
	case syscall.ENOMEM:
		return ENOMEM
	case syscall.EINVAL, syscall.ERANGE, syscall.E2BIG, syscall.EBADMSG:
		return EINVAL
	case syscall.ENOSPC, syscall.EFBIG, syscall.EDQUOT:
		return ENOSPC
	case syscall.EOVERFLOW:
		return EOVERFLOW
	case syscall.ENOTSUP:
		return ENOTSUP
	case syscall.ESHUTDOWN:
		return ESHUTDOWN
	default:
		return EIO
	}
}
