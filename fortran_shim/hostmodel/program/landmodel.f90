!> landemu_landmodel: the ELM/ILS-style host land model, coupled to landemu.
!!
!! Usage: mpirun -n K landemu_landmodel [NAMELIST]        (default NAMELIST: landmodel.nml)
!!
!! It reads an E3SM domain file and a forcing file on the same cells, splits the land cells
!! over its MPI ranks, and runs the host physics (liblandemu_hostmodel: radiation,
!! turbulence, photosynthesis/stomata, energy balance, snow, soil heat and water) every
!! half hour. At every coupling interval it puts the interval means of the forcing fields
!! landemu imports (and the soil state H2OSOI, TSOI at the interval's start), advances
!! landemu to the end of the interval, and gets the vegetation landemu exports —
!! PCT_PFT (natural + crop land units) or PCT_NAT_PFT, MONTHLY_LAI (per PFT) or LAI (cell
!! mean, shared among PFTs in proportion to the defaults), MONTHLY_SAI (per PFT) or SAI,
!! MONTHLY_HEIGHT_TOP (per PFT) or HTOP (tree PFTs) as vegh, and any of the 12 parameters —
!! which the physics then uses for that interval; after the interval's physics it puts the
!! interval means of QFLX_EVAP and RNET (zero before a cold start's first interval).
!! Anything landemu does not export keeps the host's defaults (namelist PFT
!! composition, MdPL Table 2 parameters, default seasonal LAI). Rank 0 writes a history of
!! interval means (fluxes, soil moisture, the vegetation used and the raw fields received)
!! and, at the end, the physics restart; a short monthly summary goes to stdout.
!! Results are bit-for-bit identical for any number of ranks (columns are independent and
!! outputs are gathered in global-id order).
!!
!! Namelist &landmodel (defaults in brackets):
!!   config              landemu's YAML configuration; '' runs the host alone ['']
!!   domain_file         E3SM domain file (ni, nj, xc, yc, mask, area) [required]
!!   forcing_file        forcing on the domain's cells, 1800 s steps, noleap [required]
!!   decomposition       'block' or 'roundrobin' ['block']
!!   start_ymd, start_tod  start of the run [20010101, 0]
!!   ndays               length of the run in days [365]
!!   coupling_seconds    coupling interval; a multiple of 1800 dividing 86400 [86400]
!!   history_intervals   coupling intervals per history record [1]
!!   history_file        history written by rank 0 ['landmodel_history.nc']
!!   restart_in          physics restart to start from (its time must be the start) ['']
!!   restart_out         physics restart written at the end ['']
!!   landemu_restart     landemu restart at the end: '' default name, 'none' to skip ['']
!!   sand, clay          soil texture of every column (%) [40, 20]
!!   default_pct_nat_pft(0:16)  PFT composition when landemu exports none (%)
!!                       [100 % PFT 13, c3_non-arctic_grass]
!!   use_landemu_vegetation  use the vegetation/parameters landemu exports [.true.]
!!   constant_lai        if >= 0, the cell-mean LAI is held at this value (a reference run
!!                       for comparisons) [-1]
!!   wetness             initial soil water as a fraction of porosity [0.6]
!!   summary_file        if set, rank 0 also writes the monthly summary there ['']
program landemu_landmodel
  use, intrinsic :: iso_fortran_env, only: int64, real64, error_unit, output_unit
  use mpi
  use landemu
  use hm_constants, only: nforc, nlevsoi, npft, nparam, nmonth, if_tbot, if_prec, if_fsds
  use hm_errors, only: hm_ok, msg_len, fmt_int, fmt_real
  use hm_pft_params, only: default_params, validate_params, param_lo, param_hi, param_names
  use hm_column, only: nstate, nsurf, nout, isf_sand, isf_clay, isf_lat, isf_lon, column_step, &
       column_init_state, validate_surface, is_h2osoi, is_tsoi, io_fsh, io_lh, io_fgr, io_rnet, io_fsa, &
       io_fira, io_qvegt, io_qvege, io_qsoil, io_qover, io_qdrai, io_qsnomelt, io_gpp, &
       io_tskin, io_btran, io_h2osno, io_tws, io_soilwater, io_et
  use hm_phenology, only: monthly_weights
  use hm_vegetation, only: default_monthly_lai, sai_from_lai, share_cell_value
  use hmh_time, only: to_seconds, from_seconds, day_of_year, valid_ymd, date_string
  use host_domain, only: decompose_cells
  use hmh_grid, only: domain_t, read_domain
  use hmh_forcing, only: forcing_t, open_forcing, read_steps, close_forcing
  use hmh_output, only: hist_field, history_t, history_open, history_write, history_close, &
       restart_write, restart_read, fill_value
  use hmh_coupling, only: coupling_t, coupling_discover, coupling_put, coupling_get, &
       coupling_put_fluxes, flux_names, n_vegfields, veg_names, iv_pct, iv_mlai, iv_lai, iv_sai, iv_htop, iv_msai, iv_mhtop, &
       iv_pctall, iv_param0
  implicit none

  real(real64), parameter :: dt = 1800._real64
  ! physics outputs written to the history, and their units
  integer, parameter :: n_phys = 19
  integer, parameter :: phys_index(n_phys) = [io_fsh, io_lh, io_fgr, io_rnet, io_fsa, io_fira, &
       io_qvegt, io_qvege, io_qsoil, io_et, io_qover, io_qdrai, io_qsnomelt, io_gpp, io_tskin, &
       io_btran, io_h2osno, io_tws, io_soilwater]

  ! ---- namelist ----
  character(len=1024) :: config = '', domain_file = '', forcing_file = ''
  character(len=1024) :: history_file = 'landmodel_history.nc', restart_in = '', restart_out = ''
  character(len=1024) :: landemu_restart = '', summary_file = ''
  character(len=16) :: decomposition = 'block'
  integer :: start_ymd = 20010101, start_tod = 0, ndays = 365, coupling_seconds = 86400
  integer :: history_intervals = 1
  real(real64) :: sand = 40, clay = 20, constant_lai = -1, wetness = 0.6_real64
  real(real64) :: default_pct_nat_pft(0:npft - 1) = 0
  logical :: use_landemu_vegetation = .true.
  namelist /landmodel/ config, domain_file, forcing_file, decomposition, start_ymd, start_tod, &
       ndays, coupling_seconds, history_intervals, history_file, restart_in, restart_out, &
       landemu_restart, sand, clay, default_pct_nat_pft, use_landemu_vegetation, constant_lai, &
       wetness, summary_file

  ! ---- run state ----
  type(domain_t) :: dom
  type(forcing_t) :: ff
  type(coupling_t) :: cp
  type(history_t) :: hist
  type(hist_field), allocatable :: hfields(:)
  integer(int64), allocatable :: ids(:)
  real(real64), allocatable :: surf(:, :), params(:, :, :), dparams(:, :), state(:, :)
  real(real64), allocatable :: mlai(:, :, :), msai(:, :, :), forc(:, :, :), fmean(:, :)
  real(real64), allocatable :: acc(:, :), rec(:, :), g(:, :), lai_pft(:, :)
  real(real64), allocatable :: fluxes(:, :)  ! (2, n_local) QFLX_EVAP, RNET interval means
  real(real64) :: out(nout), lai(npft), sai(npft), lai_now(npft), sai_now(npft), w1, dflt_frac(npft)
  real(real64) :: month_sum(4, nmonth), wall0
  integer :: lai_mode_received
  character(len=:), allocatable :: message
  character(len=msg_len) :: pmsg
  integer(int64) :: t_start, t0, tsec
  integer :: rank, nranks, mpierr, ierr, n_local, nsub, ncpl, k_first, icpl, k, c, st, nacc
  integer :: ymd, tod, doy, m1, m2, nrec, off_lai, off_sai, off_soi, off_pct, off_recv(n_vegfields)
  integer :: off_forc, month_of_record, f
  real(real64), allocatable :: forc0(:, :, :)

  call MPI_Init(mpierr)
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, mpierr)
  call MPI_Comm_size(MPI_COMM_WORLD, nranks, mpierr)
  wall0 = MPI_Wtime()

  call read_namelist()
  call read_domain(trim(domain_file), dom, message)
  if (message /= '') call die(message)
  call decompose_cells(dom%mask, trim(decomposition), rank, nranks, ids, message)
  if (message /= '') call die(message)
  n_local = size(ids)
  call open_forcing(trim(forcing_file), dom, dt, ff, message)
  if (message /= '') call die(message)

  ! ---- time axis -----------------------------------------------------------------------
  t_start = to_seconds(start_ymd, start_tod)
  nsub = coupling_seconds / int(dt)
  ncpl = ndays * (86400 / coupling_seconds)
  if (mod(t_start - ff%t_first, int(dt, int64)) /= 0 .or. t_start < ff%t_first .or. &
       (t_start - ff%t_first) / int(dt, int64) + int(ncpl, int64) * nsub > ff%ntime) &
       call die("forcing file '"//trim(forcing_file)//"' covers "//fmt_int(ff%ntime)// &
       " steps of 1800 s from "//date_string(ff%t_first)//"; the run needs "// &
       fmt_int(ncpl * nsub)//" steps from "//date_string(t_start))
  k_first = int((t_start - ff%t_first) / int(dt, int64)) + 1

  ! ---- columns ----------------------------------------------------------------------
  allocate (surf(nsurf, n_local), params(nparam, npft, n_local), dparams(nparam, npft))
  allocate (state(nstate, n_local), mlai(npft, nmonth, n_local), msai(npft, nmonth, n_local))
  allocate (forc(nforc, n_local, nsub), fmean(nforc, n_local), lai_pft(npft, n_local))
  allocate (fluxes(size(flux_names), n_local))
  fluxes = 0
  call default_params(dparams)
  dflt_frac = default_pct_nat_pft / sum(default_pct_nat_pft)
  do c = 1, n_local
    surf(1:npft, c) = dflt_frac
    surf(isf_sand, c) = sand
    surf(isf_clay, c) = clay
    surf(isf_lat, c) = dom%lat(ids(c))
    surf(isf_lon, c) = dom%lon(ids(c))
    params(:, :, c) = dparams
    call validate_surface(surf(:, c), ids(c), st, pmsg)
    if (st /= hm_ok) call die('namelist/domain: '//trim(pmsg))
    call default_monthly_lai(surf(isf_lat, c), mlai(:, :, c))
    call sai_from_lai(mlai(:, :, c), msai(:, :, c))
  end do

  ! ---- initial state: restart, or cold start at the first day's mean temperature --------
  if (len_trim(restart_in) > 0) then
    call restart_read(trim(restart_in), dom, ids, state, ymd, tod, message)
    if (message /= '') call die(message)
    if (ymd /= start_ymd .or. tod /= start_tod) call die("restart file '"//trim(restart_in)// &
         "' is at "//date_string(to_seconds(ymd, tod))//" but the run starts at "// &
         date_string(t_start))
  else
    allocate (forc0(nforc, n_local, 48))
    call read_steps(ff, k_first, 48, ids, forc0, message)
    if (message /= '') call die(message)
    do c = 1, n_local
      call column_init_state(surf(:, c), min(max(sum(forc0(if_tbot, c, :)) / 48, 250._real64), &
           305._real64), wetness, state(:, c))
    end do
  end if

  ! ---- landemu ------------------------------------------------------------------------
  if (len_trim(config) > 0) then
    cp%active = .true.
    call landemu_init(MPI_COMM_WORLD, trim(config), ierr)
    if (ierr /= LANDEMU_OK) call die('landemu_init: '//landemu_last_error_message())
    call landemu_set_decomposition(ids, ierr)
    if (ierr /= LANDEMU_OK) call die('landemu_set_decomposition: '//landemu_last_error_message())
    call coupling_discover(cp, n_local, message)
    if (message /= '') call die(message)
    if (.not. use_landemu_vegetation) cp%got = .false.
    if (rank == 0) call report_fields()
    ! a cold start has no interval before the first: landemu gets zero fluxes for it (after
    ! a restart, landemu's restart holds the last interval's)
    if (len_trim(restart_in) == 0) call coupling_put_fluxes(cp, fluxes, message)
    if (message /= '') call die(message)
  end if

  ! ---- history ------------------------------------------------------------------------
  call define_history()
  call history_open(hist, trim(history_file), dom, hfields, t_start, &
       'landemu ELM/ILS-style host model history', MPI_COMM_WORLD, message)
  if (message /= '') call die(message)
  allocate (acc(nrec, n_local), rec(nrec, n_local))
  acc = 0
  nacc = 0
  month_sum = 0

  ! ---- time loop ------------------------------------------------------------------------
  do icpl = 1, ncpl
    t0 = t_start + int(icpl - 1, int64) * coupling_seconds
    call read_steps(ff, k_first + (icpl - 1) * nsub, nsub, ids, forc, message)
    if (message /= '') call die(message)
    fmean = 0
    do k = 1, nsub
      fmean = fmean + forc(:, :, k)
    end do
    fmean = fmean / nsub
    if (cp%active) then
      call coupling_put(cp, fmean, state(is_h2osoi + 1:is_h2osoi + nlevsoi, :), &
           state(is_tsoi + 1:is_tsoi + nlevsoi, :), message)
      if (message /= '') call die(message)
      call from_seconds(t0 + coupling_seconds, ymd, tod)
      call landemu_advance(ymd, tod, ierr)
      if (ierr /= LANDEMU_OK) call die('landemu_advance: '//landemu_last_error_message())
      call coupling_get(cp, message)
      if (message /= '') call die(message)
    end if
    call apply_vegetation()

    fluxes = 0
    do k = 1, nsub
      tsec = t0 + int(k - 1, int64) * int(dt, int64)
      call from_seconds(tsec, ymd, tod)
      doy = day_of_year(ymd)
      call monthly_weights(doy, real(tod, real64), m1, m2, w1)
      do c = 1, n_local
        lai_now = w1 * mlai(:, m1, c) + (1 - w1) * mlai(:, m2, c)
        sai_now = w1 * msai(:, m1, c) + (1 - w1) * msai(:, m2, c)
        select case (lai_mode_received)
        case (1)
          lai = lai_pft(:, c)
        case (2)
          call share_cell_value(surf(1:npft, c), lai_now, lai_pft(1, c), 20._real64, lai)
        case default
          lai = lai_now
        end select
        if (cp%got(iv_msai)) then
          sai = min(max(cp%recv(c, :, iv_msai), 0._real64), 20._real64)
        else if (cp%got(iv_sai)) then
          call share_cell_value(surf(1:npft, c), sai_now, cp%recv(c, 1, iv_sai), 20._real64, sai)
        else
          sai = sai_now
        end if
        call column_step(ids(c), doy, real(tod, real64), dt, forc(:, c, k), surf(:, c), &
             params(:, :, c), lai, sai, state(:, c), out, st, pmsg)
        if (st /= hm_ok) call die('host physics at '//date_string(tsec)//': '//trim(pmsg))
        fluxes(:, c) = fluxes(:, c) + [out(io_et), out(io_rnet)]
        acc(1:n_phys, c) = acc(1:n_phys, c) + out(phys_index)
        acc(off_lai, c) = acc(off_lai, c) + sum(surf(1:npft, c) * lai)
        acc(off_sai, c) = acc(off_sai, c) + sum(surf(1:npft, c) * sai)
        acc(off_soi:off_soi + nlevsoi - 1, c) = acc(off_soi:off_soi + nlevsoi - 1, c) + &
             state(is_h2osoi + 1:is_h2osoi + nlevsoi, c)
        acc(off_pct:off_pct + npft - 1, c) = acc(off_pct:off_pct + npft - 1, c) + &
             100 * surf(1:npft, c)
        acc(off_forc, c) = acc(off_forc, c) + forc(if_tbot, c, k)
        acc(off_forc + 1, c) = acc(off_forc + 1, c) + forc(if_prec, c, k)
        acc(off_forc + 2, c) = acc(off_forc + 2, c) + forc(if_fsds, c, k)
        do f = 1, n_vegfields
          if (off_recv(f) > 0) acc(off_recv(f):off_recv(f) + cp%nlev(f) - 1, c) = &
               acc(off_recv(f):off_recv(f) + cp%nlev(f) - 1, c) + cp%recv(c, 1:cp%nlev(f), f)
        end do
      end do
      nacc = nacc + 1
    end do
    if (cp%active) then
      fluxes = fluxes / nsub
      call coupling_put_fluxes(cp, fluxes, message)
      if (message /= '') call die(message)
    end if

    if (mod(icpl, history_intervals) == 0 .or. icpl == ncpl) then
      rec = acc / nacc
      call history_write(hist, dom, ids, rec, real(t0 + coupling_seconds - t_start - &
           int(nacc, int64) * int(dt, int64), real64), real(t0 + coupling_seconds - t_start, &
           real64), MPI_COMM_WORLD, g, message)
      if (message /= '') call die(message)
      if (rank == 0) then
        call from_seconds(t0, ymd, tod)
        month_of_record = mod(ymd / 100, 100)
        call add_to_summary(g, month_of_record)
      end if
      acc = 0
      nacc = 0
    end if
  end do

  ! ---- end of run -------------------------------------------------------------------------
  call close_forcing(ff)
  call from_seconds(t_start + int(ncpl, int64) * coupling_seconds, ymd, tod)
  if (len_trim(restart_out) > 0) then
    call restart_write(trim(restart_out), dom, ids, state, ymd, tod, MPI_COMM_WORLD, message)
    if (message /= '') call die(message)
  end if
  if (cp%active) then
    if (trim(landemu_restart) /= 'none') then
      if (len_trim(landemu_restart) > 0) then
        call landemu_write_restart(trim(landemu_restart), ierr)
      else
        call landemu_write_restart(ierr=ierr)
      end if
      if (ierr /= LANDEMU_OK) call die('landemu_write_restart: '//landemu_last_error_message())
    end if
    call landemu_finalize(ierr)
    if (ierr /= LANDEMU_OK) call die('landemu_finalize: '//landemu_last_error_message())
  end if
  call history_close(hist, MPI_COMM_WORLD, message)
  if (message /= '') call die(message)
  if (rank == 0) call write_summary()
  call MPI_Finalize(mpierr)

contains

  !> Read &landmodel from the file named on the command line (default landmodel.nml).
  subroutine read_namelist()
    character(len=1024) :: path
    character(len=256) :: iomsg
    integer :: unit, ios
    default_pct_nat_pft = 0
    default_pct_nat_pft(13) = 100
    path = 'landmodel.nml'
    if (command_argument_count() >= 1) call get_command_argument(1, path)
    open (newunit=unit, file=trim(path), status='old', action='read', iostat=ios, iomsg=iomsg)
    if (ios /= 0) call die("cannot open namelist file '"//trim(path)//"': "//trim(iomsg))
    read (unit, nml=landmodel, iostat=ios, iomsg=iomsg)
    close (unit)
    if (ios /= 0) call die("namelist &landmodel in '"//trim(path)//"': "//trim(iomsg))
    if (len_trim(domain_file) == 0) call die('namelist: domain_file is required')
    if (len_trim(forcing_file) == 0) call die('namelist: forcing_file is required')
    if (coupling_seconds < int(dt) .or. mod(coupling_seconds, int(dt)) /= 0 .or. &
         mod(86400, max(coupling_seconds, 1)) /= 0) &
         call die('namelist: coupling_seconds must be a multiple of 1800 that divides 86400')
    if (.not. valid_ymd(start_ymd) .or. start_tod < 0 .or. start_tod >= 86400 .or. &
         mod(start_tod, int(dt)) /= 0) &
         call die('namelist: start_ymd/start_tod is not a valid noleap date on the 1800 s grid')
    if (ndays < 1) call die('namelist: ndays must be at least 1')
    if (history_intervals < 1) call die('namelist: history_intervals must be at least 1')
    if (any(default_pct_nat_pft < 0) .or. abs(sum(default_pct_nat_pft) - 100) > 1.e-6_real64) &
         call die('namelist: default_pct_nat_pft must be >= 0 and sum to 100')
    if (.not. (wetness > 0 .and. wetness <= 1)) call die('namelist: wetness must be in (0, 1]')
  end subroutine read_namelist

  !> Rank 0: which fields this configuration exchanges.
  subroutine report_fields()
    character(len=8), parameter :: names(nforc) = [character(len=8) :: 'FSDS', 'FLDS', &
         'TBOT', 'QBOT', 'WIND', 'PSRF', 'PRECTmms']
    character(len=:), allocatable :: line
    integer :: f
    line = 'landemu_landmodel: puts'
    do f = 1, nforc
      if (cp%put_forcing(f)) line = line//' '//trim(names(f))
    end do
    if (cp%put_h2osoi) line = line//' H2OSOI'
    if (cp%put_tsoi) line = line//' TSOI'
    do f = 1, size(flux_names)
      if (cp%put_flux(f)) line = line//' '//trim(flux_names(f))
    end do
    write (output_unit, '(a)') line
    line = 'landemu_landmodel: uses'
    do f = 1, n_vegfields
      if (cp%got(f)) line = line//' '//trim(veg_names(f))
    end do
    if (.not. any(cp%got)) line = line//' nothing (host defaults)'
    write (output_unit, '(a)') line
  end subroutine report_fields

  !> The history fields and where each sits in a record.
  subroutine define_history()
    integer :: n, f
    character(len=24), parameter :: units(n_phys) = [character(len=24) :: 'W m-2', 'W m-2', &
         'W m-2', 'W m-2', 'W m-2', 'W m-2', 'kg m-2 s-1', 'kg m-2 s-1', 'kg m-2 s-1', &
         'kg m-2 s-1', 'kg m-2 s-1', 'kg m-2 s-1', 'kg m-2 s-1', 'umol m-2 s-1', 'K', '1', &
         'kg m-2', 'kg m-2', 'kg m-2']
    character(len=16), parameter :: names(n_phys) = [character(len=16) :: 'FSH', 'EFLX_LH_TOT', &
         'FGR', 'RNET', 'FSA', 'FIRA', 'QVEGT', 'QVEGE', 'QSOIL', 'QFLX_EVAP', 'QOVER', 'QDRAI', &
         'QSNOMELT', 'GPP', 'TSKIN', 'BTRAN', 'H2OSNO', 'TWS', 'SOILWATER']
    character(len=64), parameter :: longs(n_phys) = [character(len=64) :: 'sensible heat flux', &
         'latent heat flux', 'ground heat flux (into soil and snow)', 'net radiation', &
         'absorbed shortwave radiation', 'net longwave radiation (upward)', 'transpiration', &
         'evaporation of intercepted water', 'ground evaporation and sublimation', &
         'total evapotranspiration', 'surface runoff', 'drainage', 'snow melt', &
         'gross primary production', 'surface temperature', 'water-stress factor', &
         'snow water equivalent', 'total water storage', 'soil water storage']
    allocate (hfields(n_phys + 7 + n_vegfields))
    do f = 1, n_phys
      hfields(f) = hist_field(names(f), units(f), longs(f), 1)
    end do
    n = n_phys
    hfields(n + 1) = hist_field('LAI', 'm2 m-2', 'leaf area index used by the physics', 1)
    hfields(n + 2) = hist_field('SAI', 'm2 m-2', 'stem area index used by the physics', 1)
    hfields(n + 3) = hist_field('H2OSOI', 'm3 m-3', 'volumetric soil water (ELM layers)', nlevsoi)
    hfields(n + 4) = hist_field('PCT_NAT_PFT', '%', 'PFT composition used by the physics', npft)
    hfields(n + 5) = hist_field('TBOT', 'K', 'forcing air temperature', 1)
    hfields(n + 6) = hist_field('PRECTmms', 'kg m-2 s-1', 'forcing precipitation', 1)
    hfields(n + 7) = hist_field('FSDS', 'W m-2', 'forcing incident shortwave', 1)
    off_lai = n + 1
    off_sai = n + 2
    off_soi = n + 3
    off_pct = off_soi + nlevsoi
    off_forc = off_pct + npft
    n = n + 7
    nrec = off_forc + 2
    off_recv = 0
    do f = 1, n_vegfields
      if (.not. cp%got(f)) cycle
      n = n + 1
      hfields(n) = hist_field('landemu_'//trim(veg_names(f)), '', &
           'received from landemu: '//trim(veg_names(f)), cp%nlev(f))
      off_recv(f) = nrec + 1
      nrec = nrec + cp%nlev(f)
    end do
    hfields = hfields(1:n)
  end subroutine define_history

  !> Turn what landemu exported (or the defaults) into this interval's surface and parameters.
  subroutine apply_vegetation()
    integer :: c, p, kp
    real(real64) :: s, v
    lai_mode_received = 0
    if (cp%got(iv_lai)) lai_mode_received = 2
    if (cp%got(iv_mlai)) lai_mode_received = 1
    if (constant_lai >= 0) lai_mode_received = 2
    do c = 1, n_local
      surf(1:npft, c) = dflt_frac
      kp = merge(iv_pctall, iv_pct, cp%got(iv_pctall))  ! the merged composition if exported
      if (cp%got(kp)) then
        s = sum(max(cp%recv(c, :, kp), 0._real64))
        if (s > 0) surf(1:npft, c) = max(cp%recv(c, :, kp), 0._real64) / s
      end if
      params(:, :, c) = dparams
      if (cp%got(iv_htop)) then
        if (cp%recv(c, 1, iv_htop) > 0) params(1, 2:9, c) = &
             min(max(cp%recv(c, 1, iv_htop), param_lo(1)), param_hi(1))
      end if
      if (cp%got(iv_mhtop)) then  ! vegh of each PFT present = its canopy top height
        do p = 2, npft
          if (cp%recv(c, p, iv_mhtop) > 0) params(1, p, c) = &
               min(max(cp%recv(c, p, iv_mhtop), param_lo(1)), param_hi(1))
        end do
      end if
      do kp = 1, nparam
        if (.not. cp%got(iv_param0 + kp)) cycle
        v = cp%recv(c, 1, iv_param0 + kp)
        if (.not. (v >= param_lo(kp) .and. v <= param_hi(kp))) call die('landemu exported '// &
             trim(param_names(kp))//' = '//fmt_real(v)//' for cell '//fmt_int(ids(c))// &
             ', outside its range ['//fmt_real(param_lo(kp))//', '//fmt_real(param_hi(kp))//']')
        params(kp, 2:npft, c) = v
      end do
      call validate_params(params(:, :, c), ids(c), st, pmsg)
      if (st /= hm_ok) call die(trim(pmsg))
      select case (lai_mode_received)
      case (1)
        do p = 1, npft
          lai_pft(p, c) = min(max(cp%recv(c, p, iv_mlai), 0._real64), 20._real64)
        end do
      case (2)
        if (constant_lai >= 0) then
          lai_pft(1, c) = constant_lai
        else
          lai_pft(1, c) = max(cp%recv(c, 1, iv_lai), 0._real64)
        end if
      end select
    end do
  end subroutine apply_vegetation

  !> Rank 0: add the area-weighted land means of one record to its month.
  subroutine add_to_summary(gg, month)
    real(real64), intent(in) :: gg(:, :)
    integer, intent(in) :: month
    integer :: i
    real(real64) :: w
    do i = 1, dom%n
      if (dom%mask(i) == 0) cycle
      w = dom%area(i)
      month_sum(1, month) = month_sum(1, month) + w
      month_sum(2, month) = month_sum(2, month) + w * gg(i, off_lai)
      month_sum(3, month) = month_sum(3, month) + w * gg(i, 2)
      month_sum(4, month) = month_sum(4, month) + w * gg(i, 1)
    end do
  end subroutine add_to_summary

  !> Rank 0: monthly host-mean LAI used, latent and sensible heat; to stdout (and a file).
  subroutine write_summary()
    integer :: m, unit, u, nu
    integer :: units(2)
    nu = 1
    units(1) = output_unit
    if (len_trim(summary_file) > 0) then
      open (newunit=unit, file=trim(summary_file), status='replace', action='write')
      nu = 2
      units(2) = unit
    end if
    do u = 1, nu
      write (units(u), '(a, i0, a, i0, a, f0.1, a)') 'landemu_landmodel: ', dom%n_land, &
           ' land columns on ', nranks, ' rank(s), ', MPI_Wtime() - wall0, ' s'
      write (units(u), '(a)') 'landemu_landmodel: history '//trim(history_file)
      write (units(u), '(a)') 'month   LAI(m2/m2)   LE(W/m2)    H(W/m2)   (area-weighted land means)'
      do m = 1, nmonth
        if (month_sum(1, m) <= 0) cycle
        write (units(u), '(i5, 3f11.3)') m, month_sum(2:4, m) / month_sum(1, m)
      end do
    end do
    if (nu == 2) close (unit)
  end subroutine write_summary

  !> Report an error and stop every rank.
  subroutine die(msg)
    character(len=*), intent(in) :: msg
    integer :: e
    write (error_unit, '(a)') 'landemu_landmodel: error: '//trim(msg)
    flush (error_unit)
    call MPI_Abort(MPI_COMM_WORLD, 2, e)
    stop 2
  end subroutine die

end program landemu_landmodel
