package pluginhost

import (
	"os/exec"
	"syscall"
)

// bindToParent makes the kernel kill the plugin when the connector dies,
// even by SIGKILL. (The signal follows the thread that started the process;
// the plugin also watches its parent itself, see sdk.Serve.)
func bindToParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
