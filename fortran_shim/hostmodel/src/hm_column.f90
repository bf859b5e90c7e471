!> One column of the ELM/ILS-style host advanced by one time step: the driver that ties
!! radiation, turbulence, photosynthesis, the patch energy balances, snow, soil heat and soil
!! water together, and checks the energy and water budgets.
!!
!! A column holds up to 17 PFT patches (ELM PCT_NAT_PFT, fractions of the column) that share
!! one soil column and one snowpack, as ELM's natural-vegetation land unit does. Each patch
!! has its own surface temperature, canopy water and 12 parameters. All state lives in the
!! caller's `state` record (layout below), so any number of columns can be stepped in any
!! order by any caller: the module has no mutable variables.
!!
!! State record (nstate = 56 values):
!!   1..10  H2OSOI  volumetric liquid soil water per layer (m3 m-3)
!!  11..20  TSOI    soil temperature per layer (K)
!!  21      H2OSNO  snow water equivalent (kg m-2)
!!  22      TSNO    temperature of the snow layer (K)
!!  23..39  H2OCAN  canopy water per PFT patch (kg m-2 of patch)
!!  40..56  TSKIN   surface temperature per PFT patch (K)
!! Surface record (nsurf = 21): 1..17 PFT fractions (sum 1), 18 sand %, 19 clay %,
!! 20 latitude, 21 longitude (degrees).
!! Forcing record (nforc = 7): FSDS, FLDS, TBOT, QBOT, WIND, PSRF, PRECTmms (hm_constants).
module hm_column
  use, intrinsic :: iso_c_binding, only: c_int64_t
  use hm_constants
  use hm_errors
  use hm_pft_params, only: ip_vegh, ip_rlfv, ip_rlfn, ip_tlfn, ip_vgcov, ip_cdl, ip_chl, ip_vmax0, &
       ip_gradm, ip_binter, ip_effcon, ip_psicr, pft_is_c4, root_a, root_b, pft_names, &
       validate_params
  use hm_soil, only: soil_props, soil_props_from_texture, matric_potential, root_fractions, dzsoi
  use hm_solar, only: solar_geometry, split_shortwave
  use hm_radiation, only: canopy_shortwave
  use hm_turbulence, only: roughness, zeta_from_richardson, aero_resistance, zeta_from_fluxes, &
       leaf_boundary_layer, undercanopy_resistance
  use hm_photosynthesis, only: water_stress, canopy_photosynthesis
  use hm_energy_balance, only: vapour_conductances, solve_surface_temperature
  use hm_soil_temperature, only: thermal_column, thermal_build, thermal_response, thermal_solve_flux
  use hm_soil_water, only: soil_water_step
  implicit none
  private

  integer, parameter, public :: is_h2osoi = 0                 !! offset of H2OSOI(1:10)
  integer, parameter, public :: is_tsoi = nlevsoi             !! offset of TSOI(1:10)
  integer, parameter, public :: is_swe = 2 * nlevsoi + 1      !! index of H2OSNO
  integer, parameter, public :: is_tsno = 2 * nlevsoi + 2     !! index of TSNO
  integer, parameter, public :: is_h2ocan = 2 * nlevsoi + 2   !! offset of H2OCAN(1:17)
  integer, parameter, public :: is_tskin = 2 * nlevsoi + 2 + npft  !! offset of TSKIN(1:17)
  integer, parameter, public :: nstate = 2 * nlevsoi + 2 + 2 * npft

  integer, parameter, public :: isf_sand = npft + 1, isf_clay = npft + 2, isf_lat = npft + 3, &
       isf_lon = npft + 4
  integer, parameter, public :: nsurf = npft + 4

  !> column outputs of one step (means over the step, patch-weighted)
  integer, parameter, public :: nout = 27
  integer, parameter, public :: io_fsa = 1, io_fira = 2, io_rnet = 3, io_fsh = 4, io_lh = 5, &
       io_fgr = 6, io_ebal = 7, io_qvegt = 8, io_qvege = 9, io_qsoil = 10, io_qover = 11, &
       io_qdrai = 12, io_qinfl = 13, io_qsnomelt = 14, io_gpp = 15, io_tskin = 16, io_ra = 17, &
       io_btran = 18, io_albedo = 19, io_h2osno = 20, io_soilwater = 21, io_tws = 22, &
       io_wbal = 23, io_rain = 24, io_snow = 25, io_lai = 26, io_et = 27
  character(len=12), parameter, public :: out_names(nout) = [character(len=12) :: &
       'FSA', 'FIRA', 'RNET', 'FSH', 'EFLX_LH_TOT', 'FGR', 'EBAL', 'QVEGT', 'QVEGE', 'QSOIL', &
       'QOVER', 'QDRAI', 'QINFL', 'QSNOMELT', 'GPP', 'TSKIN', 'RA', 'BTRAN', 'ALBEDO', 'H2OSNO', &
       'SOILWATER', 'TWS', 'WBAL', 'RAIN', 'SNOW', 'LAI', 'QFLX_EVAP']
  character(len=16), parameter, public :: out_units(nout) = [character(len=16) :: &
       'W m-2', 'W m-2', 'W m-2', 'W m-2', 'W m-2', 'W m-2', 'W m-2', 'kg m-2 s-1', &
       'kg m-2 s-1', 'kg m-2 s-1', 'kg m-2 s-1', 'kg m-2 s-1', 'kg m-2 s-1', 'kg m-2 s-1', &
       'umol m-2 s-1', 'K', 's m-1', '1', '1', 'kg m-2', 'kg m-2', 'kg m-2', 'kg m-2', &
       'kg m-2 s-1', 'kg m-2 s-1', 'm2 m-2', 'kg m-2 s-1']

  integer, parameter :: n_outer = 3        !! stability / stomata iterations
  real(dp), parameter :: alb_sat(2) = [0.11_dp, 0.22_dp]  !! saturated soil albedo (vis, nir), CLM4.5 Table 3.3 mid colour
  real(dp), parameter :: alb_dry(2) = [0.22_dp, 0.44_dp]  !! dry soil albedo (vis, nir)
  real(dp), parameter :: sno_depth_scale = 0.05_dp        !! snow depth (m) giving 50 % snow cover
  !> conductance between a vegetated skin (canopy) and the ground surface (W m-2 K-1): the
  !! order of the ECMWF TESSEL skin conductivities (Viterbo & Beljaars 1995), in series with
  !! the conductance of the top soil/snow node; bare ground couples through the node only.
  real(dp), parameter :: lambda_skin_veg = 10._dp

  public :: column_step, column_init_state, validate_forcing, validate_surface, &
       validate_vegetation, validate_state, column_water_storage

contains

  ! ---------------------------------------------------------------------------------------
  ! validation
  ! ---------------------------------------------------------------------------------------

  !> Forcing values must be finite and physically plausible in the documented units.
  subroutine validate_forcing(forc, icol, status, msg)
    real(dp), intent(in) :: forc(nforc)            !! forcing record
    integer(c_int64_t), intent(in) :: icol         !! 1-based column index
    integer, intent(out) :: status                 !! hm_ok or hm_err_forcing
    character(len=msg_len), intent(inout) :: msg   !! message on failure
    character(len=8), parameter :: names(nforc) = [character(len=8) :: 'FSDS', 'FLDS', 'TBOT', &
         'QBOT', 'WIND', 'PSRF', 'PRECTmms']
    character(len=10), parameter :: units(nforc) = [character(len=10) :: 'W m-2', 'W m-2', 'K', &
         'kg kg-1', 'm s-1', 'Pa', 'kg m-2 s-1']
    real(dp), parameter :: lo(nforc) = [0._dp, 30._dp, 170._dp, 0._dp, 0._dp, 3.e4_dp, 0._dp]
    real(dp), parameter :: hi(nforc) = [1500._dp, 800._dp, 345._dp, 0.08_dp, 100._dp, 1.2e5_dp, 0.2_dp]
    integer :: k
    status = hm_ok
    do k = 1, nforc
      if (.not. (forc(k) >= lo(k) .and. forc(k) <= hi(k))) then
        status = hm_err_forcing
        msg = 'forcing '//trim(names(k))//' = '//fmt_real(forc(k))//' at column '//fmt_int(icol)// &
             ' is outside the plausible range ['//fmt_real(lo(k))//', '//fmt_real(hi(k))//'] '// &
             trim(units(k))//' (missing value or wrong units?)'
        return
      end if
    end do
  end subroutine validate_forcing

  !> PFT fractions must be >= 0 and sum to 1; texture and coordinates must be in range.
  subroutine validate_surface(surf, icol, status, msg)
    real(dp), intent(in) :: surf(nsurf)            !! surface record
    integer(c_int64_t), intent(in) :: icol         !! 1-based column index
    integer, intent(out) :: status                 !! hm_ok or hm_err_surface
    character(len=msg_len), intent(inout) :: msg   !! message on failure
    integer :: p
    real(dp) :: s
    status = hm_err_surface
    s = 0._dp
    do p = 1, npft
      if (.not. (surf(p) >= 0._dp .and. surf(p) <= 1._dp)) then
        msg = 'PFT fraction of PFT '//fmt_int(int(p - 1, c_int64_t))//' ('//trim(pft_names(p))// &
             ') of column '//fmt_int(icol)//' is '//fmt_real(surf(p))//'; expected a fraction in [0, 1]'
        return
      end if
      s = s + surf(p)
    end do
    if (abs(s - 1._dp) > 1.e-6_dp) then
      msg = 'PFT fractions of column '//fmt_int(icol)//' sum to '//fmt_real(s)// &
           '; expected 1 (PCT_NAT_PFT / 100)'
      return
    end if
    if (.not. (surf(isf_sand) >= 0._dp .and. surf(isf_clay) >= 0._dp .and. &
         surf(isf_sand) + surf(isf_clay) <= 100._dp)) then
      msg = 'soil texture of column '//fmt_int(icol)//': sand '//fmt_real(surf(isf_sand))// &
           ' %, clay '//fmt_real(surf(isf_clay))//' %; expected sand, clay >= 0 and sand + clay <= 100'
      return
    end if
    if (.not. (abs(surf(isf_lat)) <= 90._dp .and. abs(surf(isf_lon)) <= 720._dp)) then
      msg = 'coordinates of column '//fmt_int(icol)//' (lat '//fmt_real(surf(isf_lat))//', lon '// &
           fmt_real(surf(isf_lon))//') are not valid degrees'
      return
    end if
    status = hm_ok
  end subroutine validate_surface

  !> LAI and SAI per PFT must be finite and in [0, 20].
  subroutine validate_vegetation(lai, sai, icol, status, msg)
    real(dp), intent(in) :: lai(npft)              !! leaf area index per PFT (m2 m-2)
    real(dp), intent(in) :: sai(npft)              !! stem area index per PFT (m2 m-2)
    integer(c_int64_t), intent(in) :: icol         !! 1-based column index
    integer, intent(out) :: status                 !! hm_ok or hm_err_surface
    character(len=msg_len), intent(inout) :: msg   !! message on failure
    integer :: p
    status = hm_ok
    do p = 1, npft
      if (.not. (lai(p) >= 0._dp .and. lai(p) <= 20._dp .and. sai(p) >= 0._dp .and. sai(p) <= 20._dp)) then
        status = hm_err_surface
        msg = 'LAI/SAI of PFT '//fmt_int(int(p - 1, c_int64_t))//' ('//trim(pft_names(p))// &
             ') of column '//fmt_int(icol)//' are '//fmt_real(lai(p))//' / '//fmt_real(sai(p))// &
             '; expected values in [0, 20] m2 m-2'
        return
      end if
    end do
  end subroutine validate_vegetation

  !> The state must be finite and physical (catches uninitialised or corrupted restarts).
  subroutine validate_state(state, icol, status, msg)
    real(dp), intent(in) :: state(nstate)          !! state record
    integer(c_int64_t), intent(in) :: icol         !! 1-based column index
    integer, intent(out) :: status                 !! hm_ok or hm_err_state
    character(len=msg_len), intent(inout) :: msg   !! message on failure
    integer :: k
    logical :: ok
    status = hm_ok
    do k = 1, nstate
      if (k <= nlevsoi) then
        ok = state(k) >= 0._dp .and. state(k) <= 1._dp
      else if (k <= 2 * nlevsoi .or. k == is_tsno .or. k > is_tskin) then
        ok = state(k) >= 150._dp .and. state(k) <= 400._dp
      else
        ok = state(k) >= 0._dp .and. state(k) < 1.e6_dp
      end if
      if (.not. ok) then
        status = hm_err_state
        msg = 'state value '//fmt_int(int(k, c_int64_t))//' of column '//fmt_int(icol)//' is '// &
             fmt_real(state(k))//' (not physical: was the state initialised with hm_init_state?)'
        return
      end if
    end do
  end subroutine validate_state

  ! ---------------------------------------------------------------------------------------
  ! state
  ! ---------------------------------------------------------------------------------------

  !> Cold-start state: uniform temperature, soil at a given fraction of saturation, no snow.
  pure subroutine column_init_state(surf, tinit, wetness, state)
    real(dp), intent(in) :: surf(nsurf)     !! surface record
    real(dp), intent(in) :: tinit           !! initial soil and surface temperature (K)
    real(dp), intent(in) :: wetness         !! initial soil water as a fraction of porosity
    real(dp), intent(out) :: state(nstate)  !! state record
    type(soil_props) :: sp
    sp = soil_props_from_texture(surf(isf_sand), surf(isf_clay))
    state(is_h2osoi + 1:is_h2osoi + nlevsoi) = max(min(wetness, 1._dp) * sp%watsat, theta_min)
    state(is_tsoi + 1:is_tsoi + nlevsoi) = tinit
    state(is_swe) = 0._dp
    state(is_tsno) = min(tinit, tfrz)
    state(is_h2ocan + 1:is_h2ocan + npft) = 0._dp
    state(is_tskin + 1:is_tskin + npft) = tinit
  end subroutine column_init_state

  !> Total water stored in a column (kg m-2): soil liquid + snow + canopy water (with the
  !! PFT fractions normalised to sum to one, as column_step uses them).
  pure function column_water_storage(surf, state) result(w)
    real(dp), intent(in) :: surf(nsurf)     !! surface record
    real(dp), intent(in) :: state(nstate)   !! state record
    real(dp) :: w
    w = sum(state(is_h2osoi + 1:is_h2osoi + nlevsoi) * dzsoi) * denh2o + state(is_swe) + &
         sum(surf(1:npft) / sum(surf(1:npft)) * state(is_h2ocan + 1:is_h2ocan + npft))
  end function column_water_storage

  ! ---------------------------------------------------------------------------------------
  ! one step
  ! ---------------------------------------------------------------------------------------

  !> Advance one column by one step of length dt starting at (doy, tod).
  subroutine column_step(icol, doy, tod, dt, forc, surf, params, lai, sai, state, out, status, msg)
    integer(c_int64_t), intent(in) :: icol          !! 1-based column index (messages only)
    integer, intent(in) :: doy                      !! day of year at the start of the step (1..366)
    real(dp), intent(in) :: tod                     !! seconds since 00 UTC at the start of the step
    real(dp), intent(in) :: dt                      !! step length (s)
    real(dp), intent(in) :: forc(nforc)             !! forcing record (means over the step)
    real(dp), intent(in) :: surf(nsurf)             !! surface record
    real(dp), intent(in) :: params(nparam, npft)    !! 12 parameters per PFT
    real(dp), intent(in) :: lai(npft)               !! leaf area index per PFT (m2 m-2 of patch)
    real(dp), intent(in) :: sai(npft)               !! stem area index per PFT (m2 m-2 of patch)
    real(dp), intent(inout) :: state(nstate)        !! state record, updated in place
    real(dp), intent(out) :: out(nout)              !! column outputs of the step
    integer, intent(out) :: status                  !! hm_ok or an hm_err_* code
    character(len=msg_len), intent(inout) :: msg    !! message on failure

    type(soil_props) :: sp
    type(thermal_column) :: tc
    type(vapour_conductances) :: gv(npft)
    real(dp) :: fsds, flds, tbot, qbot, wind, psrf, prec, coszen, ecc, swdir(2), swdif(2)
    real(dp) :: rho, ea, fsnow_prec, snowfall, rain, theta(nlevsoi), tsoi(nlevsoi), swe, tsno
    real(dp) :: w_before, w_after, fsno, alb_g(2), emis_g, alpha, beta, psi(nlevsoi), dpsi
    real(dp) :: r_soil, beta_soil, s1, qin_ground, sink(nlevsoi), tnew(0:nlevsoi), gtot
    real(dp) :: frac(npft), fv(npft), lai_loc(npft), sai_loc(npft), fwet(npft), cap(npft)
    real(dp) :: sw_abs(npft), sw_abs_veg(npft), apar(npft), kpar(npft), emis(npft), z0m(npft)
    real(dp) :: z0h(npft), displa(npft), btran(npft), wt(nlevsoi, npft), zeta(npft), ts(npft)
    real(dp) :: rootfr(nlevsoi), ustar, ram, rah(npft), rbh, rbw, uh, rund, gs_can, gpp(npft)
    real(dp) :: an, rs, gh(npft), g_tran(npft), g_wet(npft), g_gsoil(npft), g_gsnow(npft)
    real(dp) :: d_leaf(npft), d_gsoil(npft), rn(npft), sh(npft), lh(npft), gflx(npft), dq(npft)
    real(dp) :: gcoef, goff, tsm_others, e_tran(npft), e_wet(npft), e_soil(npft), e_snow(npft)
    real(dp) :: qs, dqs, evap, melt, heat, cv1, qover, qinfl, qdrai, deficit, lt, fint, ground_liq
    real(dp) :: et_tot, melt_flux, ustar_p(npft), kp(npft)
    integer :: p, it, sweep, nsweep, k, nact, act(npft), i
    logical :: snow_layer, converged

    status = hm_ok
    out = 0._dp
    call validate_forcing(forc, icol, status, msg)
    if (status /= hm_ok) return

    fsds = forc(if_fsds)
    flds = forc(if_flds)
    tbot = forc(if_tbot)
    qbot = forc(if_qbot)
    wind = forc(if_wind)
    psrf = forc(if_psrf)
    prec = forc(if_prec)
    call solar_geometry(surf(isf_lat), surf(isf_lon), doy, tod + 0.5_dp * dt, coszen, ecc)
    call split_shortwave(fsds, coszen, ecc, swdir, swdif)
    rho = psrf / (rair * tbot * (1._dp + 0.61_dp * qbot))
    ea = qbot * psrf / (0.622_dp + 0.378_dp * qbot)
    ! rain/snow partition: linear ramp between tfrz and tfrz + 2 K (CLM4.5 eq. 7.4-7.5 style)
    fsnow_prec = min(max((tfrz + 2._dp - tbot) / 2._dp, 0._dp), 1._dp)
    snowfall = prec * fsnow_prec
    rain = prec - snowfall

    sp = soil_props_from_texture(surf(isf_sand), surf(isf_clay))
    theta = state(is_h2osoi + 1:is_h2osoi + nlevsoi)
    tsoi = state(is_tsoi + 1:is_tsoi + nlevsoi)
    swe = state(is_swe)
    tsno = state(is_tsno)
    ! fractions normalised exactly, so that the water budget closes to round-off
    frac = surf(1:npft) / sum(surf(1:npft))
    w_before = column_water_storage(surf, state)

    ! --- snow accumulation -------------------------------------------------------------
    if (snowfall > 0._dp) then
      if (swe >= swe_layer_min) then
        tsno = (swe * tsno + snowfall * dt * min(tbot, tfrz)) / (swe + snowfall * dt)
      else
        tsno = min(tbot, tfrz)
      end if
      swe = swe + snowfall * dt
    end if
    snow_layer = swe >= swe_layer_min
    fsno = (swe / denice_snow) / (swe / denice_snow + sno_depth_scale)

    ! --- ground optics -------------------------------------------------------------------
    s1 = theta(1)
    do k = 1, 2
      alb_g(k) = min(alb_sat(k) + max(0.11_dp - 0.40_dp * s1, 0._dp), alb_dry(k))
      alb_g(k) = fsno * merge(alb_snow_vis, alb_snow_nir, k == 1) + (1._dp - fsno) * alb_g(k)
    end do
    emis_g = fsno * emis_snow + (1._dp - fsno) * emis_soil

    ! --- soil heat: implicit response of the top layer ----------------------------------
    call thermal_build(sp, theta, tsoi, snow_layer, swe, tsno, dt, tc)

    ! --- soil water status ------------------------------------------------------------
    do i = 1, nlevsoi
      call matric_potential(sp, theta(i), psi(i), dpsi)
    end do
    ! soil evaporation: Sellers et al. (1992) surface resistance and the Lee & Pielke (1992) beta
    r_soil = exp(8.206_dp - 4.255_dp * min(theta(1) / sp%watsat, 1._dp))
    if (theta(1) >= sp%watfc) then
      beta_soil = 1._dp
    else
      beta_soil = 0.25_dp * (1._dp - cos(pi * max(theta(1) - theta_min, 0._dp) / &
           (sp%watfc - theta_min)))**2
    end if

    ! --- patches: interception, radiation, roughness, stress -------------------------
    nact = 0
    ground_liq = 0._dp
    do p = 1, npft
      if (frac(p) <= 0._dp) cycle
      nact = nact + 1
      act(nact) = p
      lt = lai(p) + sai(p)
      if (p > 1 .and. lt > 0._dp) then
        fv(p) = params(ip_vgcov, p)
      else
        fv(p) = 0._dp
      end if
      if (fv(p) > 0._dp) then
        lai_loc(p) = lai(p) / fv(p)
        sai_loc(p) = sai(p) / fv(p)
      else
        lai_loc(p) = 0._dp
        sai_loc(p) = 0._dp
      end if
      ! interception of rain (CLM4.5 eq. 7.2 with the vegetated fraction); excess drips
      cap(p) = h2ocan_per_lai * fv(p) * (lai_loc(p) + sai_loc(p))
      fint = fv(p) * (1._dp - exp(-0.5_dp * (lai_loc(p) + sai_loc(p))))
      state(is_h2ocan + p) = state(is_h2ocan + p) + fint * rain * dt
      ground_liq = ground_liq + frac(p) * (1._dp - fint) * rain
      if (state(is_h2ocan + p) > cap(p)) then
        ground_liq = ground_liq + frac(p) * (state(is_h2ocan + p) - cap(p)) / dt
        state(is_h2ocan + p) = cap(p)
      end if
      if (cap(p) > 0._dp) then
        fwet(p) = min((state(is_h2ocan + p) / cap(p))**(2._dp / 3._dp), 1._dp)   ! Deardorff (1978)
      else
        fwet(p) = 0._dp
      end if
      call canopy_shortwave(swdir, swdif, coszen, lai_loc(p), sai_loc(p), fv(p), params(ip_rlfv, p), &
           params(ip_rlfn, p), params(ip_tlfn, p), alb_g, sw_abs(p), sw_abs_veg(p), apar(p), kpar(p))
      emis(p) = fv(p) * emis_veg + (1._dp - fv(p)) * emis_g
      call roughness(params(ip_vegh, p), fv(p), fsno, z0m(p), z0h(p), displa(p))
      call root_fractions(root_a(p), root_b(p), rootfr)
      call water_stress(psi, rootfr, params(ip_psicr, p), btran(p), wt(:, p))
      ts(p) = state(is_tskin + p)
      call qsat_and_deriv(ts(p), psrf, qs, dqs)
      zeta(p) = zeta_from_richardson(wind, tbot, ts(p), qbot, qs, z0m(p))
      kp(p) = (1._dp - fv(p)) * tc%knode + fv(p) / (1._dp / lambda_skin_veg + 1._dp / tc%knode)
    end do
    ! implicit response of the top soil/snow layer to the patch surface temperatures
    tc%ktop = 0._dp
    do k = 1, nact
      tc%ktop = tc%ktop + frac(act(k)) * kp(act(k))
    end do
    call thermal_response(tc, alpha, beta)

    ! --- energy balance: stability/stomata iterations around the patch Newton solves ----
    nsweep = merge(1, 2, nact == 1)
    do it = 1, n_outer
      do k = 1, nact
        p = act(k)
        lt = lai_loc(p) + sai_loc(p)
        call aero_resistance(wind, zeta(p), z0m(p), z0h(p), ustar, ram, rah(p))
        gh(p) = (1._dp - fv(p)) / rah(p)
        g_tran(p) = 0._dp
        g_wet(p) = 0._dp
        d_leaf(p) = 0._dp
        gpp(p) = 0._dp
        rund = 0._dp
        if (fv(p) > 0._dp) then
          call leaf_boundary_layer(ustar, params(ip_vegh, p), lt, params(ip_cdl, p), &
               params(ip_chl, p), rbh, rbw, uh)
          rund = undercanopy_resistance(ustar, lt)
          call canopy_photosynthesis(pft_is_c4(p), params(ip_vmax0, p), params(ip_effcon, p), &
               params(ip_gradm, p), params(ip_binter, p), btran(p), apar(p), kpar(p), lai_loc(p), &
               ts(p), psrf, ea, params(ip_cdl, p) * uh, gs_can, gpp(p), an)
          gh(p) = gh(p) + fv(p) / (rah(p) + rbh)
          if (lai_loc(p) > 0._dp .and. gs_can > 0._dp) then
            rs = 1._dp / gs_can
            g_tran(p) = fv(p) * (1._dp - fwet(p)) / (rah(p) + rbw + rs)
          end if
          g_wet(p) = fv(p) * fwet(p) / (rah(p) + rbw)
          d_leaf(p) = fv(p) / (rah(p) + rbw)
        end if
        g_gsoil(p) = beta_soil * (1._dp - fsno) * (fv(p) / (rah(p) + rund + r_soil) + &
             (1._dp - fv(p)) / (rah(p) + r_soil))
        g_gsnow(p) = fsno * (fv(p) / (rah(p) + rund) + (1._dp - fv(p)) / rah(p))
        d_gsoil(p) = (1._dp - fsno) * (fv(p) / (rah(p) + rund) + (1._dp - fv(p)) / rah(p))
        gv(p)%ev_liq = g_tran(p) + g_wet(p) + g_gsoil(p)
        gv(p)%ev_ice = g_gsnow(p)
        gv(p)%dw_liq = d_leaf(p) + d_gsoil(p)
        gv(p)%dw_ice = g_gsnow(p)
        ustar_p(p) = ustar     ! kept for the stability update after the solve
      end do
      do sweep = 1, nsweep
        do k = 1, nact
          p = act(k)
          tsm_others = 0._dp
          do i = 1, nact
            if (act(i) /= p) tsm_others = tsm_others + frac(act(i)) * kp(act(i)) * ts(act(i))
          end do
          gcoef = kp(p) * (1._dp - beta * frac(p) * kp(p) / tc%ktop)
          goff = kp(p) * (alpha + beta * tsm_others / tc%ktop)
          call solve_surface_temperature(sw_abs(p), flds, emis(p), tbot, qbot, rho, psrf, gh(p), &
               gv(p), gcoef, goff, ts(p), rn(p), sh(p), lh(p), gflx(p), dq(p), converged)
          if (.not. converged) then
            status = hm_err_numeric
            msg = 'surface energy balance did not converge for PFT '// &
                 fmt_int(int(p - 1, c_int64_t))//' of column '//fmt_int(icol)
            return
          end if
        end do
      end do
      if (it < n_outer) then
        do k = 1, nact
          p = act(k)
          if (dq(p) >= 0._dp) then
            evap = rho * (gv(p)%ev_liq + gv(p)%ev_ice) * dq(p)
          else
            evap = rho * (gv(p)%dw_liq + gv(p)%dw_ice) * dq(p)
          end if
          zeta(p) = zeta_from_fluxes(ustar_p(p), tbot, qbot, rho, sh(p), evap, z0m(p))
        end do
      end if
    end do

    ! --- patch water fluxes (kg m-2 s-1) from the converged solution ---------------------
    do k = 1, nact
      p = act(k)
      if (dq(p) >= 0._dp) then
        e_tran(p) = rho * g_tran(p) * dq(p)
        e_wet(p) = rho * g_wet(p) * dq(p)
        e_soil(p) = rho * g_gsoil(p) * dq(p)
        e_snow(p) = rho * g_gsnow(p) * dq(p)
      else
        e_tran(p) = 0._dp
        e_wet(p) = rho * d_leaf(p) * dq(p)
        e_soil(p) = rho * d_gsoil(p) * dq(p)
        e_snow(p) = rho * g_gsnow(p) * dq(p)
      end if
    end do

    ! --- soil heat with the patch-weighted ground heat flux --------------------------------
    gtot = 0._dp
    do k = 1, nact
      p = act(k)
      gtot = gtot + frac(p) * gflx(p)
    end do
    call thermal_solve_flux(tc, gtot, tnew)
    tsoi = tnew(1:nlevsoi)
    melt = 0._dp
    cv1 = tc%heatcap(1)
    if (snow_layer) then
      tsno = tnew(0)
      if (tsno > tfrz) then
        heat = tc%heatcap(0) * (tsno - tfrz)
        melt = min(heat / hfus, swe)
        tsno = tfrz
        ! energy left after the whole pack melted warms the top soil layer
        tsoi(1) = tsoi(1) + (heat - melt * hfus) / cv1
      end if
    else if (swe > 0._dp .and. tsoi(1) > tfrz) then
      heat = cv1 * (tsoi(1) - tfrz)
      melt = min(heat / hfus, swe)
      tsoi(1) = tsoi(1) - melt * hfus / cv1
    end if
    swe = swe - melt

    ! --- evaporative sources ---------------------------------------------------------------
    sink = 0._dp
    deficit = 0._dp
    do k = 1, nact
      p = act(k)
      state(is_h2ocan + p) = state(is_h2ocan + p) - e_wet(p) * dt
      if (state(is_h2ocan + p) < 0._dp) then
        ! more evaporated from wet leaves than they held: the rest came from the top soil
        deficit = deficit - frac(p) * state(is_h2ocan + p) / dt
        state(is_h2ocan + p) = 0._dp
      else if (state(is_h2ocan + p) > cap(p)) then
        ! dew beyond the canopy capacity drips to the ground
        ground_liq = ground_liq + frac(p) * (state(is_h2ocan + p) - cap(p)) / dt
        state(is_h2ocan + p) = cap(p)
      end if
      sink(1) = sink(1) + frac(p) * e_soil(p)
      sink(:) = sink(:) + frac(p) * e_tran(p) * wt(:, p)
    end do
    evap = 0._dp
    do k = 1, nact
      evap = evap + frac(act(k)) * e_snow(act(k))
    end do
    swe = swe - evap * dt
    if (swe < 0._dp) then
      deficit = deficit - swe / dt       ! sublimation beyond the pack came from the soil
      swe = 0._dp
    end if
    if (swe < 1.e-9_dp) then
      melt = melt + swe                  ! a vanishing trace of snow melts
      swe = 0._dp
    end if
    if (snow_layer .and. swe < swe_layer_min) then
      ! the snow layer disappears: its remaining heat goes to the top soil layer
      tsoi(1) = tsoi(1) + swe * cpice * (tsno - tsoi(1)) / cv1
    end if
    if (swe < swe_layer_min) tsno = tfrz
    sink(1) = sink(1) + deficit
    melt_flux = melt / dt

    ! --- soil water -------------------------------------------------------------------------
    qin_ground = ground_liq + melt_flux
    call soil_water_step(sp, dt, qin_ground, sink, theta, qover, qinfl, qdrai)

    ! --- write back the state ---------------------------------------------------------
    state(is_h2osoi + 1:is_h2osoi + nlevsoi) = theta
    state(is_tsoi + 1:is_tsoi + nlevsoi) = tsoi
    state(is_swe) = swe
    state(is_tsno) = tsno
    do k = 1, nact
      p = act(k)
      state(is_tskin + p) = ts(p)
    end do

    ! --- column diagnostics --------------------------------------------------------------
    et_tot = 0._dp
    do k = 1, nact
      p = act(k)
      out(io_fsa) = out(io_fsa) + frac(p) * sw_abs(p)
      out(io_fira) = out(io_fira) + frac(p) * (sw_abs(p) - rn(p))
      out(io_rnet) = out(io_rnet) + frac(p) * rn(p)
      out(io_fsh) = out(io_fsh) + frac(p) * sh(p)
      out(io_lh) = out(io_lh) + frac(p) * lh(p)
      out(io_fgr) = out(io_fgr) + frac(p) * gflx(p)
      out(io_ebal) = out(io_ebal) + frac(p) * (rn(p) - sh(p) - lh(p) - gflx(p))
      out(io_qvegt) = out(io_qvegt) + frac(p) * e_tran(p)
      out(io_qvege) = out(io_qvege) + frac(p) * e_wet(p)
      out(io_qsoil) = out(io_qsoil) + frac(p) * (e_soil(p) + e_snow(p))
      out(io_gpp) = out(io_gpp) + frac(p) * fv(p) * gpp(p) * 1.e6_dp
      out(io_tskin) = out(io_tskin) + frac(p) * ts(p)
      out(io_ra) = out(io_ra) + frac(p) / rah(p)
      out(io_btran) = out(io_btran) + frac(p) * btran(p)
      out(io_lai) = out(io_lai) + frac(p) * lai(p)
    end do
    ! inactive patches start from the column-mean surface temperature if they appear later
    do p = 1, npft
      if (frac(p) <= 0._dp) state(is_tskin + p) = out(io_tskin)
    end do
    et_tot = out(io_qvegt) + out(io_qvege) + out(io_qsoil)
    out(io_ra) = 1._dp / out(io_ra)
    out(io_qover) = qover
    out(io_qdrai) = qdrai
    out(io_qinfl) = qinfl
    out(io_qsnomelt) = melt_flux
    if (fsds > 0._dp) then
      out(io_albedo) = 1._dp - out(io_fsa) / fsds
    else
      out(io_albedo) = 0._dp
    end if
    out(io_h2osno) = swe
    out(io_soilwater) = sum(theta * dzsoi) * denh2o
    w_after = column_water_storage(surf, state)
    out(io_tws) = w_after
    out(io_wbal) = (w_after - w_before) - (prec - et_tot - qover - qdrai) * dt
    out(io_rain) = rain
    out(io_snow) = snowfall
    out(io_et) = et_tot
  end subroutine column_step

end module hm_column
