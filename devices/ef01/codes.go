package ef01

import (
	"errors"
	"fmt"
)

// Instruction codes (the first payload byte of a command packet).
const (
	InsGenImg        byte = 0x01 // capture an image into the image buffer
	InsImg2Tz        byte = 0x02 // features of the image (module matcher; unused)
	InsUpImage       byte = 0x0A // upload the image buffer to the host
	InsDownImage     byte = 0x0B // download an image to the module (unused)
	InsSetSysPara    byte = 0x0E // set a system parameter
	InsReadSysPara   byte = 0x0F // read the system parameters
	InsSetPwd        byte = 0x12 // set the password (unused)
	InsVfyPwd        byte = 0x13 // verify the password; the handshake
	InsSetAddr       byte = 0x15 // set the address (unused)
	InsAuraLedConfig byte = 0x35 // LED ring (R503 and later)
	InsHandShake     byte = 0x40 // handshake (R50x only; VfyPwd works on all)
)

// System parameter numbers for SetSysPara.
const (
	ParamBaud       byte = 4 // N: baud rate = N x 9600, N = 1..12
	ParamSecurity   byte = 5 // matching threshold 1..5 (module matcher; unused)
	ParamPacketSize byte = 6 // 0: 32, 1: 64, 2: 128, 3: 256 bytes
)

// Confirmation codes (the first payload byte of an acknowledgement).
const (
	ConfOK               byte = 0x00
	ConfPacketReceive    byte = 0x01 // error receiving the command packet
	ConfNoFinger         byte = 0x02 // no finger on the sensor
	ConfImageFail        byte = 0x03 // failed to capture / enroll the finger
	ConfTooDry           byte = 0x04 // image too dry or too light (some modules)
	ConfTooWet           byte = 0x05 // image too wet or too dark (some modules)
	ConfDisordered       byte = 0x06 // image too disordered for features
	ConfFewFeatures      byte = 0x07 // too few feature points
	ConfNoMatch          byte = 0x08
	ConfNotFound         byte = 0x09
	ConfCombineFail      byte = 0x0A
	ConfBadLocation      byte = 0x0B
	ConfTemplateRead     byte = 0x0C
	ConfFeatureUpload    byte = 0x0D
	ConfDataReceive      byte = 0x0E // cannot receive the following data packets
	ConfImageUpload      byte = 0x0F // failed to upload the image
	ConfDeleteFail       byte = 0x10
	ConfClearFail        byte = 0x11
	ConfWrongPassword    byte = 0x13
	ConfNoPrimaryImage   byte = 0x15 // no valid primary image in the buffer
	ConfFlashWrite       byte = 0x18
	ConfNoDefinition     byte = 0x19
	ConfInvalidRegister  byte = 0x1A
	ConfBadRegisterValue byte = 0x1B
	ConfBadNotepadPage   byte = 0x1C
	ConfPortFail         byte = 0x1D
	ConfAddressError     byte = 0x20
	ConfPasswordRequired byte = 0x21
	ConfTimeout          byte = 0x26
	ConfSensorFault      byte = 0x29
	ConfUnsupported      byte = 0xFC
	ConfHardwareFault    byte = 0xFD
	ConfExecutionFail    byte = 0xFE
)

// Error classes. Every error the driver returns wraps at most one of the
// three classes below (ErrRetryable, ErrOffline, ErrConfig) and, when it
// comes from a confirmation code, a *ConfirmationError and the detail
// sentinel for that code.
var (
	// ErrRetryable: the capture was not usable but the module works: a
	// poor image (wet, dry, smeared, moved), an upload that lost or
	// corrupted packets, a module that stopped mid-image and then answered
	// again. Ask the traveller to place the finger again; count it in the
	// attempts. Never treat it as a mismatch.
	ErrRetryable = errors.New("capture not usable, try again")
	// ErrOffline: the module does not answer (unplugged, powered off, wrong
	// baud rate, wrong address) or the port is gone. The lane is out of
	// service for fingerprints until it answers again.
	ErrOffline = errors.New("module not answering")
	// ErrConfig: the module answers but refuses the configuration (wrong
	// password, a baud rate or packet size it does not accept). Retrying
	// does not help; the installation must be fixed.
	ErrConfig = errors.New("module configuration refused")
)

// Detail sentinels.
var (
	ErrNoFinger        = errors.New("no finger on the sensor")
	ErrPoorImage       = errors.New("poor fingerprint image")
	ErrIncompleteImage = errors.New("image upload incomplete or wrong size")
	ErrStoppedMidImage = errors.New("module stopped sending mid-image")
	ErrPacketReceive   = errors.New("module could not receive the packet")
	ErrUploadFailed    = errors.New("module failed to upload the image")
	ErrWrongPassword   = errors.New("wrong module password")
	ErrPasswordNeeded  = errors.New("module requires the password to be verified first")
	ErrUnsupported     = errors.New("command not supported by this module")
	ErrBadParameter    = errors.New("parameter refused by the module")
	ErrModuleFault     = errors.New("module hardware or flash fault")
	ErrCommandFailed   = errors.New("command failed")
	ErrNoResponse      = errors.New("no response from the module")
	ErrProtocol        = errors.New("unexpected answer from the module")
)

type confInfo struct {
	text   string
	detail error
	class  error // nil: no class (a plain command failure)
}

var confTable = map[byte]confInfo{
	ConfPacketReceive:    {"error receiving the command packet", ErrPacketReceive, ErrRetryable},
	ConfNoFinger:         {"no finger on the sensor", ErrNoFinger, nil},
	ConfImageFail:        {"failed to capture the finger (poor image)", ErrPoorImage, ErrRetryable},
	ConfTooDry:           {"image too dry or too light", ErrPoorImage, ErrRetryable},
	ConfTooWet:           {"image too wet or too dark", ErrPoorImage, ErrRetryable},
	ConfDisordered:       {"image too disordered", ErrPoorImage, ErrRetryable},
	ConfFewFeatures:      {"too few feature points", ErrPoorImage, ErrRetryable},
	ConfNoMatch:          {"fingers do not match (module matcher)", ErrCommandFailed, nil},
	ConfNotFound:         {"no matching finger in the library (module matcher)", ErrCommandFailed, nil},
	ConfCombineFail:      {"failed to combine character files", ErrCommandFailed, nil},
	ConfBadLocation:      {"page id beyond the finger library", ErrBadParameter, nil},
	ConfTemplateRead:     {"error reading a template from the library", ErrCommandFailed, nil},
	ConfFeatureUpload:    {"error uploading the features", ErrCommandFailed, nil},
	ConfDataReceive:      {"cannot receive the following data packets", ErrPacketReceive, ErrRetryable},
	ConfImageUpload:      {"failed to upload the image", ErrUploadFailed, ErrRetryable},
	ConfDeleteFail:       {"failed to delete a template", ErrCommandFailed, nil},
	ConfClearFail:        {"failed to clear the library", ErrCommandFailed, nil},
	ConfWrongPassword:    {"wrong password", ErrWrongPassword, ErrConfig},
	ConfNoPrimaryImage:   {"no valid primary image", ErrPoorImage, ErrRetryable},
	ConfFlashWrite:       {"error writing the flash", ErrModuleFault, nil},
	ConfNoDefinition:     {"no definition error", ErrUnsupported, nil},
	ConfInvalidRegister:  {"invalid register number", ErrBadParameter, ErrConfig},
	ConfBadRegisterValue: {"incorrect register value", ErrBadParameter, ErrConfig},
	ConfBadNotepadPage:   {"wrong notepad page", ErrBadParameter, nil},
	ConfPortFail:         {"failed to operate the communication port", ErrModuleFault, nil},
	ConfAddressError:     {"address error", ErrBadParameter, ErrConfig},
	ConfPasswordRequired: {"password must be verified first", ErrPasswordNeeded, ErrConfig},
	ConfTimeout:          {"module timed out", ErrCommandFailed, nil},
	ConfSensorFault:      {"sensor hardware error", ErrModuleFault, nil},
	ConfUnsupported:      {"unsupported command", ErrUnsupported, nil},
	ConfHardwareFault:    {"hardware error", ErrModuleFault, nil},
	ConfExecutionFail:    {"command execution failed", ErrCommandFailed, nil},
}

// ConfirmationText describes a confirmation code.
func ConfirmationText(code byte) string {
	if code == ConfOK {
		return "ok"
	}
	if c, ok := confTable[code]; ok {
		return c.text
	}
	return "unknown confirmation code"
}

// ConfirmationError is a non-zero confirmation code in the module's answer
// to a command. errors.Is matches it with the detail sentinel for its code
// (for example ErrNoFinger for 0x02) and with its class (ErrRetryable,
// ErrConfig) when it has one.
type ConfirmationError struct {
	// Instruction is the command's instruction code.
	Instruction byte
	// Code is the confirmation code.
	Code byte
}

func (e *ConfirmationError) Error() string {
	return fmt.Sprintf("ef01: %s: confirmation 0x%02X: %s", InstructionName(e.Instruction), e.Code, ConfirmationText(e.Code))
}

// Is reports the detail sentinel and class of the code.
func (e *ConfirmationError) Is(target error) bool {
	c, ok := confTable[e.Code]
	if !ok {
		return target == ErrCommandFailed
	}
	return target == c.detail || (c.class != nil && target == c.class)
}

// InstructionName names an instruction code for messages.
func InstructionName(ins byte) string {
	switch ins {
	case InsGenImg:
		return "GenImg"
	case InsImg2Tz:
		return "Img2Tz"
	case InsUpImage:
		return "UpImage"
	case InsDownImage:
		return "DownImage"
	case InsSetSysPara:
		return "SetSysPara"
	case InsReadSysPara:
		return "ReadSysPara"
	case InsSetPwd:
		return "SetPwd"
	case InsVfyPwd:
		return "VfyPwd"
	case InsSetAddr:
		return "SetAddr"
	case InsAuraLedConfig:
		return "AuraLedConfig"
	case InsHandShake:
		return "HandShake"
	}
	return fmt.Sprintf("instruction 0x%02X", ins)
}
