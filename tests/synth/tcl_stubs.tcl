# Stand-ins for the Vitis HLS and Vivado Tcl commands hwgen's scripts call, so that tclsh 8.6 runs
# hls.tcl and bd.tcl for real (their own Tcl: variables, procs, file copies) without the tools.
#
# Each stub appends one line to $::stub(log): the command and its arguments as a Tcl list. Stubs
# check what they can: files added exist (relative to the working directory), cells are created
# before use, every get_bd_pins / get_bd_intf_pins names an existing cell and a pin its IP has
# (hwgen_top_0: the ports of the Vitis HLS top), IP VLNVs are in the catalog, and the HLS IP is in
# the catalog only when ip_repo_paths holds its component.xml. A failed check is a Tcl error.
#
# IP parameters are checked as strictly as the product guides state them: the AXI DMA's (AMD PG021)
# widths, bursts and length register, the AXI4-Stream data width converter's (PG085) byte widths, the PS
# HP port widths; validate_bd_design refuses AXI4-Stream connections whose two ends differ in
# TDATA width, TLAST or TKEEP (Vivado: BD 41-237, bus interface property mismatch).
#
# Set before sourcing (defaults below):
#   ::stub(log)          file the calls go to
#   ::stub(run_dir)      [get_property DIRECTORY [get_runs impl_1]]
#   ::stub(board_parts)  board parts Vivado knows
#   ::stub(progress)     [get_property PROGRESS <run>]
#   ::stub(act_mhz)      the PL clock the PS reports making
#   ::stub(hls_axis)     the HLS IP's AXI4-Stream TDATA widths: {in_stream BITS out_stream BITS}

foreach {key value} {run_dir {} board_parts {} progress 100% act_mhz 100.000000} {
    if {![info exists ::stub($key)]} { set ::stub($key) $value }
}
if {![info exists ::stub(log)]} { error "stub: set ::stub(log) before sourcing tcl_stubs.tcl" }

# The IP catalog of a Vivado install (two versions of one IP: the newest must be picked).
set ::stub(ipdefs) {
    xilinx.com:ip:processing_system7:5.5
    xilinx.com:ip:zynq_ultra_ps_e:3.5
    xilinx.com:ip:axi_dma:7.0
    xilinx.com:ip:axi_dma:7.1
    xilinx.com:ip:proc_sys_reset:5.0
    xilinx.com:ip:axis_dwidth_converter:1.1
}
set ::stub(hls_vlnv) hwgen.org:hwgen:hwgen_top:1.0

# Pins per IP (name part of the VLNV): interface pins, then plain pins.
array set ::stub_intf {
    processing_system7 {M_AXI_GP0 S_AXI_HP0 DDR FIXED_IO}
    zynq_ultra_ps_e {M_AXI_HPM0_FPD S_AXI_HP0_FPD}
    axi_dma {S_AXI_LITE M_AXI_MM2S M_AXI_S2MM M_AXIS_MM2S S_AXIS_S2MM}
    proc_sys_reset {}
    axis_dwidth_converter {S_AXIS M_AXIS}
    hwgen_top {in_stream out_stream s_axi_control}
}
array set ::stub_pin {
    processing_system7 {FCLK_CLK0 FCLK_RESET0_N M_AXI_GP0_ACLK S_AXI_HP0_ACLK}
    zynq_ultra_ps_e {pl_clk0 pl_resetn0 maxihpm0_fpd_aclk saxihp0_fpd_aclk}
    axi_dma {s_axi_lite_aclk m_axi_mm2s_aclk m_axi_s2mm_aclk axi_resetn mm2s_introut s2mm_introut}
    proc_sys_reset {slowest_sync_clk ext_reset_in aux_reset_in mb_debug_sys_rst dcm_locked mb_reset
                    bus_struct_reset peripheral_reset interconnect_aresetn peripheral_aresetn}
    axis_dwidth_converter {aclk aresetn}
    hwgen_top {ap_clk ap_rst_n interrupt}
}
array set ::stub_cells {}
array set ::stub_props {}
array set ::stub_nets {}
set ::stub(next_net) 0
set ::stub(project) {}
set ::stub(bd) {}
set ::stub(repo_paths) {}
set ::stub(catalog) $::stub(ipdefs)

proc stub_log {args} {
    set fd [open $::stub(log) a]
    puts $fd [list {*}$args]
    close $fd
}

proc stub_fail {msg} { error "stub: $msg" }

# "-a -b value x y" -> dict of options (flags map to 1) and the remaining words
proc stub_options {words flags valued} {
    set opts [dict create]
    set rest {}
    for {set i 0} {$i < [llength $words]} {incr i} {
        set w [lindex $words $i]
        if {$w in $flags} {
            dict set opts $w 1
        } elseif {$w in $valued} {
            incr i
            if {$i >= [llength $words]} { stub_fail "option $w needs a value" }
            dict set opts $w [lindex $words $i]
        } elseif {[string match -* $w] && ![string is double -strict $w]} {
            stub_fail "unknown option $w in: $words"
        } else {
            lappend rest $w
        }
    }
    return [list $opts $rest]
}

proc stub_need_file {path what} {
    if {![file exists $path]} { stub_fail "$what: $path does not exist (relative to [pwd])" }
}

# ---- Vitis HLS --------------------------------------------------------------------------------
proc open_project {args} {
    stub_log open_project {*}$args
    lassign [stub_options $args {-reset} {}] opts rest
    if {[llength $rest] != 1} { stub_fail "open_project takes one project name: $args" }
    set ::stub(hls_project) [lindex $rest 0]
}
proc set_top {args} {
    stub_log set_top {*}$args
    if {![info exists ::stub(hls_project)]} { stub_fail "set_top before open_project" }
    set ::stub(hls_top) [lindex $args 0]
}
proc open_solution {args} {
    stub_log open_solution {*}$args
    lassign [stub_options $args {-reset} {-flow_target}] opts rest
    if {![info exists ::stub(hls_project)]} { stub_fail "open_solution before open_project" }
    if {[dict exists $opts -flow_target] && [dict get $opts -flow_target] ni {vivado vitis}} {
        stub_fail "open_solution -flow_target must be vivado or vitis"
    }
    set ::stub(hls_solution) [lindex $rest 0]
}
proc set_part {args} {
    stub_log set_part {*}$args
    if {![info exists ::stub(hls_solution)]} { stub_fail "set_part before open_solution" }
}
proc create_clock {args} {
    stub_log create_clock {*}$args
    lassign [stub_options $args {} {-period -name}] opts rest
    if {![string is double -strict [dict get $opts -period]] || [dict get $opts -period] <= 0} {
        stub_fail "create_clock -period must be a positive number of ns"
    }
}
proc csim_design {args} { stub_log csim_design {*}$args }
proc csynth_design {args} {
    stub_log csynth_design {*}$args
    if {![info exists ::stub(hls_top)]} { stub_fail "csynth_design without set_top" }
    set report [file join $::stub(hls_project) $::stub(hls_solution) syn report]
    file mkdir $report
    set fd [open [file join $report csynth.xml] w]
    puts $fd "<profile><UserAssignments><TopModelName>$::stub(hls_top)</TopModelName></UserAssignments></profile>"
    close $fd
}
proc cosim_design {args} {
    stub_log cosim_design {*}$args
    lassign [stub_options $args {} {-rtl -tool -trace_level -argv}] opts rest
}
proc export_design {args} {
    stub_log export_design {*}$args
    lassign [stub_options $args {} {-format -vendor -library -ipname -version -display_name -description -rtl -flow -output -taxonomy}] opts rest
    foreach key {-format -vendor -library -ipname -version} {
        if {![dict exists $opts $key]} { stub_fail "export_design needs $key" }
    }
    set vlnv "[dict get $opts -vendor]:[dict get $opts -library]:[dict get $opts -ipname]:[dict get $opts -version]"
    set ip [file join $::stub(hls_project) $::stub(hls_solution) impl ip]
    file mkdir $ip
    set fd [open [file join $ip component.xml] w]
    puts $fd "<spirit:component vlnv=\"$vlnv\"/>"
    close $fd
}
rename exit stub_real_exit
proc exit {args} {
    stub_log exit {*}$args
    stub_real_exit {*}$args
}

# add_files: Vitis HLS (-tb, -cflags, -csimflags) and Vivado (-norecurse, -fileset)
proc add_files {args} {
    stub_log add_files {*}$args
    lassign [stub_options $args {-tb -norecurse -quiet} {-cflags -csimflags -fileset}] opts rest
    if {![llength $rest]} { stub_fail "add_files without files" }
    foreach f $rest { stub_need_file $f "add_files" }
}

# ---- Vivado: project ------------------------------------------------------------------------------
proc create_project {args} {
    stub_log create_project {*}$args
    lassign [stub_options $args {-force -in_memory} {-part}] opts rest
    if {![dict exists $opts -part]} { stub_fail "create_project without -part" }
    if {[llength $rest] != 2} { stub_fail "create_project takes a name and a folder: $args" }
    set ::stub(project) [lindex $rest 0]
    file mkdir [lindex $rest 1]
}
proc current_project {args} {
    if {$::stub(project) eq {}} { stub_fail "current_project: no project is open" }
    return $::stub(project)
}
proc current_fileset {args} { return sources_1 }
proc get_param {name} {
    stub_log get_param $name
    return {}
}
proc set_param {args} { stub_log set_param {*}$args }
proc get_board_parts {args} {
    stub_log get_board_parts {*}$args
    lassign [stub_options $args {-quiet -latest_file_version} {-filter}] opts rest
    set out {}
    foreach part $::stub(board_parts) {
        foreach pattern $rest { if {[string match $pattern $part]} { lappend out $part } }
    }
    return $out
}
proc update_ip_catalog {args} {
    stub_log update_ip_catalog {*}$args
    set ::stub(catalog) $::stub(ipdefs)
    foreach repo $::stub(repo_paths) {
        if {[file exists [file join $repo component.xml]]} { lappend ::stub(catalog) $::stub(hls_vlnv) }
    }
}
proc get_ipdefs {args} {
    stub_log get_ipdefs {*}$args
    lassign [stub_options $args {-quiet -all} {-filter}] opts rest
    set out {}
    foreach def $::stub(catalog) {
        if {[string match [lindex $rest 0] $def]} { lappend out $def }
    }
    return $out
}

# ---- Vivado: properties -----------------------------------------------------------------------------
proc set_property {args} {
    stub_log set_property {*}$args
    lassign [stub_options $args {-quiet} {-dict -name -value -objects}] opts rest
    if {[dict exists $opts -dict]} {
        set pairs [dict get $opts -dict]
        set objects $rest
    } else {
        lassign $rest name value
        set pairs [list $name $value]
        set objects [lrange $rest 2 end]
    }
    if {![llength $objects]} { stub_fail "set_property without objects: $args" }
    if {[llength $pairs] % 2} { stub_fail "set_property: odd name/value list $pairs" }
    foreach {name value} $pairs {
        foreach object $objects {
            if {[string match /* $object] && [string match CONFIG.* $name]} { stub_set_config $object [string range $name 7 end] $value }
        }
        if {$name eq "ip_repo_paths"} {
            foreach repo $value {
                if {![file isdirectory $repo]} { stub_fail "ip_repo_paths: $repo is not a folder" }
            }
            set ::stub(repo_paths) $value
        }
        if {$name eq "board_part" && $value ni $::stub(board_parts)} { stub_fail "board_part $value is not installed" }
    }
    foreach object $objects {
        if {[string match /* $object]} { stub_check_config $object }
    }
}
proc get_property {args} {
    stub_log get_property {*}$args
    lassign [stub_options $args {-quiet} {}] opts rest
    lassign $rest name object
    switch -glob -- $name {
        VLNV { return $object }
        PROGRESS { return $::stub(progress) }
        STATUS { return "write_bitstream Complete!" }
        DIRECTORY {
            if {$object eq "impl_1"} { return $::stub(run_dir) }
            return [file join [pwd] runs $object]
        }
        CONFIG.*ACT* { return $::stub(act_mhz) }
        default { return {} }
    }
}

# ---- Vivado: block design ----------------------------------------------------------------------------
proc create_bd_design {args} {
    stub_log create_bd_design {*}$args
    current_project
    set ::stub(bd) [lindex $args 0]
}
proc create_bd_cell {args} {
    stub_log create_bd_cell {*}$args
    lassign [stub_options $args {} {-type -vlnv}] opts rest
    if {$::stub(bd) eq {}} { stub_fail "create_bd_cell before create_bd_design" }
    set vlnv [dict get $opts -vlnv]
    if {$vlnv ni $::stub(catalog)} { stub_fail "create_bd_cell: $vlnv is not in the IP catalog" }
    set name [lindex $rest 0]
    if {[info exists ::stub_cells($name)]} { stub_fail "create_bd_cell: a cell $name exists" }
    set ::stub_cells($name) [lindex [split $vlnv :] 2]
    return /$name
}
proc stub_cell {path} {
    set name [string trimleft $path /]
    if {![info exists ::stub_cells($name)]} { stub_fail "no cell $name (cells: [array names ::stub_cells])" }
    return $::stub_cells($name)
}
# ---- IP parameters: defaults and the documented rules -----------------------------------------------
# Defaults of the parameters hwgen sets (PG021 for the DMA, PG085 for the converter); for these IPs a
# parameter not listed is an error, as in Vivado. The PS IPs have hundreds: only the HP widths are checked.
array set ::stub_defaults {
    axi_dma {c_include_sg 1 c_sg_include_stscntrl_strm 1 c_sg_length_width 14 c_include_mm2s 1 c_include_s2mm 1
             c_m_axi_mm2s_data_width 32 c_m_axis_mm2s_tdata_width 32 c_mm2s_burst_size 16
             c_m_axi_s2mm_data_width 32 c_s_axis_s2mm_tdata_width 32 c_s2mm_burst_size 16}
    axis_dwidth_converter {S_TDATA_NUM_BYTES 1 M_TDATA_NUM_BYTES 1 HAS_TLAST 0 HAS_TKEEP 0}
    processing_system7 {PCW_S_AXI_HP0_DATA_WIDTH 64}
    zynq_ultra_ps_e {PSU__SAXIGP2__DATA_WIDTH 128}
}
set ::stub(strict_ips) {axi_dma axis_dwidth_converter}

proc stub_config {cell name} {
    set cell [string trimleft $cell /]
    if {[info exists ::stub_props($cell,$name)]} { return $::stub_props($cell,$name) }
    return [dict get $::stub_defaults([stub_cell $cell]) $name]
}
proc stub_set_config {object name value} {
    set cell [string trimleft $object /]
    set ip [stub_cell $cell]
    if {$ip in $::stub(strict_ips) && ![dict exists $::stub_defaults($ip) $name]} {
        stub_fail "$cell: $ip has no parameter CONFIG.$name (it has: [dict keys $::stub_defaults($ip)])"
    }
    set ::stub_props($cell,$name) $value
}
proc stub_one_of {cell name values} {
    set v [stub_config $cell $name]
    if {$v ni $values} { stub_fail "$cell: CONFIG.$name must be one of $values, not $v" }
    return $v
}
proc stub_check_config {object} {
    set cell [string trimleft $object /]
    switch -- [stub_cell $cell] {
        axi_dma {
            # PG021: memory-map widths 32..1024, stream widths 8..1024 and at most the memory-map width,
            # bursts 2..256 beats (AXI4: a burst moves at most 4 KB), length register 8..26 bits
            stub_one_of $cell c_include_sg {0 1}
            set length [stub_config $cell c_sg_length_width]
            if {![string is integer -strict $length] || $length < 8 || $length > 26} {
                stub_fail "$cell: CONFIG.c_sg_length_width must be 8..26 bits, not $length"
            }
            foreach {mm stream burst} {c_m_axi_mm2s_data_width c_m_axis_mm2s_tdata_width c_mm2s_burst_size
                                       c_m_axi_s2mm_data_width c_s_axis_s2mm_tdata_width c_s2mm_burst_size} {
                set m [stub_one_of $cell $mm {32 64 128 256 512 1024}]
                set s [stub_one_of $cell $stream {8 16 32 64 128 256 512 1024}]
                set b [stub_one_of $cell $burst {2 4 8 16 32 64 128 256}]
                if {$s > $m} { stub_fail "$cell: CONFIG.$stream ($s) must be at most CONFIG.$mm ($m) (PG021)" }
                if {$b * $m / 8 > 4096} { stub_fail "$cell: CONFIG.$burst $b beats of $m bits exceed AXI4's 4 KB burst" }
            }
        }
        axis_dwidth_converter {
            foreach name {S_TDATA_NUM_BYTES M_TDATA_NUM_BYTES} {
                set v [stub_config $cell $name]
                if {![string is integer -strict $v] || $v < 1 || $v > 512} { stub_fail "$cell: CONFIG.$name must be 1..512 bytes, not $v (PG085)" }
            }
            stub_one_of $cell HAS_TLAST {0 1}
            stub_one_of $cell HAS_TKEEP {0 1}
        }
        processing_system7 { stub_one_of $cell PCW_S_AXI_HP0_DATA_WIDTH {32 64} }
        zynq_ultra_ps_e { stub_one_of $cell PSU__SAXIGP2__DATA_WIDTH {32 64 128} }
    }
}
# An AXI4-Stream interface pin's {TDATA bits, TLAST, TKEEP}, or {} for a pin of another kind.
proc stub_axis {pin} {
    lassign [split [string trimleft $pin /] /] cell name
    switch -- [stub_cell $cell]/$name {
        axi_dma/M_AXIS_MM2S { return [list [stub_config $cell c_m_axis_mm2s_tdata_width] 1 1] }
        axi_dma/S_AXIS_S2MM { return [list [stub_config $cell c_s_axis_s2mm_tdata_width] 1 1] }
        axis_dwidth_converter/S_AXIS {
            return [list [expr {8 * [stub_config $cell S_TDATA_NUM_BYTES]}] [stub_config $cell HAS_TLAST] [stub_config $cell HAS_TKEEP]]
        }
        axis_dwidth_converter/M_AXIS {
            return [list [expr {8 * [stub_config $cell M_TDATA_NUM_BYTES]}] [stub_config $cell HAS_TLAST] [stub_config $cell HAS_TKEEP]]
        }
        hwgen_top/in_stream - hwgen_top/out_stream {
            if {![info exists ::stub(hls_axis)] || ![dict exists $::stub(hls_axis) $name]} {
                stub_fail "set ::stub(hls_axis) to the HLS IP's stream widths {in_stream BITS out_stream BITS}"
            }
            return [list [dict get $::stub(hls_axis) $name] 1 1]
        }
    }
    return {}
}

proc get_bd_cells {args} {
    stub_log get_bd_cells {*}$args
    lassign [stub_options $args {-quiet} {}] opts rest
    foreach name $rest { stub_cell $name }
    return [lmap name $rest { string cat / [string trimleft $name /] }]
}
proc stub_pin {kind path} {
    set parts [split [string trimleft $path /] /]
    if {[llength $parts] != 2} { stub_fail "a pin must be cell/pin, not $path" }
    lassign $parts cell pin
    set ip [stub_cell $cell]
    set known [expr {$kind eq "intf" ? $::stub_intf($ip) : $::stub_pin($ip)}]
    if {$pin ni $known} { stub_fail "$ip cell $cell has no [expr {$kind eq {intf} ? {interface pin} : {pin}}] $pin (it has: $known)" }
    return /$cell/$pin
}
proc get_bd_pins {args} {
    stub_log get_bd_pins {*}$args
    lassign [stub_options $args {-quiet} {}] opts rest
    return [lmap p $rest { stub_pin pin $p }]
}
proc get_bd_intf_pins {args} {
    stub_log get_bd_intf_pins {*}$args
    lassign [stub_options $args {-quiet} {}] opts rest
    return [lmap p $rest { stub_pin intf $p }]
}
proc stub_connect {kind args} {
    if {[llength $args] < 2} { stub_fail "connect_bd_$kind needs two objects at least: $args" }
    set net {}
    foreach p $args {
        if {[info exists ::stub_nets($p)]} { set net $::stub_nets($p) }
    }
    if {$net eq {}} { set net "${kind}_[incr ::stub(next_net)]" }
    foreach p $args { set ::stub_nets($p) $net }
}
proc connect_bd_net {args} {
    stub_log connect_bd_net {*}$args
    stub_connect net {*}[concat {*}$args]
}
proc connect_bd_intf_net {args} {
    stub_log connect_bd_intf_net {*}$args
    lassign [stub_options $args {} {-boundary_type}] opts rest
    if {[llength $rest] != 2} { stub_fail "connect_bd_intf_net connects two interface pins: $args" }
    stub_connect intf {*}$rest
}
proc get_bd_nets {args} {
    stub_log get_bd_nets {*}$args
    lassign [stub_options $args {-quiet} {-of_objects}] opts rest
    set pin [dict get $opts -of_objects]
    return [expr {[info exists ::stub_nets($pin)] ? $::stub_nets($pin) : {}}]
}
proc apply_bd_automation {args} {
    stub_log apply_bd_automation {*}$args
    lassign [stub_options $args {} {-rule -config -dict}] opts rest
    set rule [dict get $opts -rule]
    set target [lindex $rest 0]
    if {$target eq {}} { stub_fail "apply_bd_automation without a target object" }
    switch -- $rule {
        xilinx.com:bd_rule:processing_system7 -
        xilinx.com:bd_rule:zynq_ultra_ps_e {
            set ip [lindex [split $rule :] end]
            if {[stub_cell $target] ne $ip} { stub_fail "rule $rule applied to a [stub_cell $target] cell" }
        }
        xilinx.com:bd_rule:axi4 {
            set config [dict get $opts -config]
            foreach key {Master Slave} {
                if {![dict exists $config $key]} { stub_fail "axi4 automation without $key: $config" }
                stub_pin intf [dict get $config $key]
            }
            if {$target ni [list [dict get $config Master] [dict get $config Slave]]} {
                stub_fail "axi4 automation on $target, which is neither its Master nor its Slave"
            }
        }
        default { stub_fail "unknown automation rule $rule" }
    }
}
proc assign_bd_address {args} { stub_log assign_bd_address {*}$args }
proc validate_bd_design {args} {
    stub_log validate_bd_design {*}$args
    foreach pin {/hwgen_top_0/ap_clk /hwgen_top_0/ap_rst_n /hwgen_top_0/in_stream /hwgen_top_0/out_stream} {
        if {![info exists ::stub_nets($pin)]} { stub_fail "validate_bd_design: $pin is not connected" }
    }
    foreach cell [array names ::stub_cells] { stub_check_config /$cell }
    # both ends of every AXI4-Stream connection alike in TDATA width, TLAST and TKEEP
    array set ends {}
    foreach pin [array names ::stub_nets] {
        if {[string match intf_* $::stub_nets($pin)]} { lappend ends($::stub_nets($pin)) $pin }
    }
    foreach net [array names ends] {
        set pins [lsort $ends($net)]
        set props [lmap pin $pins { stub_axis $pin }]
        if {[llength [lsort -unique $props]] > 1} {
            set said [lmap pin $pins p $props { string cat "$pin (TDATA [lindex $p 0] bits, TLAST [lindex $p 1], TKEEP [lindex $p 2])" }]
            stub_fail "validate_bd_design: \[BD 41-237\] AXI4-Stream properties differ between [join $said { and }]"
        }
    }
}
proc save_bd_design {args} { stub_log save_bd_design {*}$args }

# ---- Vivado: files, runs, reports -------------------------------------------------------------------
proc get_files {args} {
    stub_log get_files {*}$args
    lassign [stub_options $args {-quiet -all} {-of_objects -filter}] opts rest
    if {[lindex $rest 0] ne "$::stub(bd).bd"} { stub_fail "get_files [lindex $rest 0]: the block design is $::stub(bd).bd" }
    return [lindex $rest 0]
}
proc make_wrapper {args} {
    stub_log make_wrapper {*}$args
    lassign [stub_options $args {-top -import} {-files -fileset}] opts rest
    set dir [file join [pwd] $::stub(project) gen]
    file mkdir $dir
    set wrapper [file join $dir $::stub(bd)_wrapper.v]
    close [open $wrapper w]
    return $wrapper
}
proc update_compile_order {args} { stub_log update_compile_order {*}$args }
proc get_runs {args} {
    stub_log get_runs {*}$args
    set run [lindex $args 0]
    if {$run ni {synth_1 impl_1}} { stub_fail "no run $run" }
    return $run
}
proc launch_runs {args} {
    stub_log launch_runs {*}$args
    lassign [stub_options $args {} {-to_step -jobs}] opts rest
    if {$rest ne "impl_1" || [dict get $opts -to_step] ne "write_bitstream"} { stub_fail "launch_runs: expected impl_1 -to_step write_bitstream: $args" }
    if {![string is integer -strict [dict get $opts -jobs]]} { stub_fail "launch_runs -jobs must be an integer" }
}
proc wait_on_run {args} { stub_log wait_on_run {*}$args }
proc open_run {args} { stub_log open_run {*}$args }
proc stub_report {name args} {
    lassign [stub_options $args {-hierarchical} {-file -format}] opts rest
    if {![file isdirectory [file dirname [dict get $opts -file]]]} { stub_fail "$name -file: no folder for [dict get $opts -file]" }
    set fd [open [dict get $opts -file] w]
    puts $fd "stub $name"
    close $fd
}
proc report_utilization {args} {
    stub_log report_utilization {*}$args
    stub_report report_utilization {*}$args
}
proc report_timing_summary {args} {
    stub_log report_timing_summary {*}$args
    stub_report report_timing_summary {*}$args
}
proc close_project {args} { stub_log close_project {*}$args }
